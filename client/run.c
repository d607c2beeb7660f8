/*
 * run.c - corelocker-agent run: unlock into sealed memfds, start CMD on
 * them, and keep checking the license while CMD runs.
 *
 * The unlocked model never has a name on disk: every shard is a memfd,
 * sealed against writes and size changes, passed to CMD as /proc/self/fd/N
 * (the descriptor is the only thing kept open across exec).  A sharded
 * model also gets its index in a memfd, whose weight_map points at the
 * shards' /proc/self/fd/N paths.  CMD dies with the agent (PR_SET_PDEATHSIG):
 * without the agent nobody checks the license any more.
 *
 * The agent waits in sigtimedwait(): SIGCHLD ends the wait for CMD, the
 * forwarded signals go to CMD, the timeout is the next heartbeat (lease / 3,
 * or --every; validate every 60 s for a license without a lease).  CMD is
 * stopped (SIGTERM, SIGKILL after --grace) when an answer is not VALID, the
 * tier no longer is the one CMD's model was unlocked to, or no heartbeat got
 * through before the lease lapsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "error.h"

#define RUN_SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)
#define NO_LEASE_EVERY 60

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};

static int64_t now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static int seal(int fd, const char *name)
{
	if (fcntl(fd, F_ADD_SEALS, RUN_SEALS) < 0)
		return cl_fail_errno("%s: cannot seal the memfd", name);
	return 0;
}

/* A sharded model's index in a memfd: weight_map values become the shards' /proc/self/fd/N paths. */
static int index_memfd(const struct ag_memmodel *mm, int *out)
{
	json_t *wm = json_object_get(mm->index, "weight_map"), *val;
	const char *tensor;
	char path[32], *text = NULL;
	int fd = -1, r = 0;

	json_object_foreach(wm, tensor, val)
	{
		uint32_t i = 0;
		while (i < mm->n && strcmp(json_string_value(val), mm->names[i]))
			i++;
		if (i == mm->n)
			return ax_fail(AX_BASE, "wrong base model: the index maps %s to an unknown shard",
				       tensor);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mm->fds[i]);
		json_object_set_new(wm, tensor, json_string(path));
	}
	if (!(text = json_dumps(mm->index, JSON_COMPACT)))
		return cl_fail(CL_ENOMEM, "out of memory");
	if ((fd = memfd_create(mm->index_name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0)
		r = cl_fail_errno("%s: memfd_create", mm->index_name);
	else if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		r = cl_fail_errno("%s: write", mm->index_name);
	else
		r = seal(fd, mm->index_name);
	free(text);
	if (r < 0 && fd >= 0)
		close(fd);
	*out = r < 0 ? -1 : fd;
	return r;
}

/* ARG with every "{model}" replaced by PATH (malloc'd). */
static char *subst(const char *arg, const char *path)
{
	size_t n = 0, pl = strlen(path);
	const char *p;
	char *s, *o;

	for (p = arg; (p = strstr(p, "{model}")); p += 7)
		n++;
	if (!(s = malloc(strlen(arg) + n * pl + 1)))
		return NULL;
	for (o = s, p = arg; *p;) {
		if (!strncmp(p, "{model}", 7)) {
			memcpy(o, path, pl);
			o += pl;
			p += 7;
		} else {
			*o++ = *p++;
		}
	}
	*o = 0;
	return s;
}

/*
 * Start CMD with the model at /proc/self/fd/MODEL_FD; KEEP (N descriptors)
 * stay open across exec.  An exec failure comes back through a CLOEXEC
 * pipe, so it is one line from the agent.
 */
static int start(char **argv, const int *keep, uint32_t n, int model_fd, const sigset_t *old, pid_t *pid)
{
	char path[32];
	char **av;
	size_t argc = 0;
	int pfd[2], err = 0, r = 0;
	pid_t parent = getpid();

	snprintf(path, sizeof(path), "/proc/self/fd/%d", model_fd);
	while (argv[argc])
		argc++;
	if (!(av = calloc(argc + 1, sizeof(*av))))
		return cl_fail(CL_ENOMEM, "out of memory");
	for (size_t i = 0; i < argc; i++)
		if (!(av[i] = subst(argv[i], path))) {
			r = cl_fail(CL_ENOMEM, "out of memory");
			goto out;
		}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = cl_fail_errno("pipe");
		goto out;
	}
	if ((*pid = fork()) < 0) {
		r = cl_fail_errno("fork");
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (*pid == 0) {
		close(pfd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* the agent died before prctl took */
			_exit(127);
		for (uint32_t i = 0; i < n; i++)
			fcntl(keep[i], F_SETFD, 0);
		for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
			signal(forwarded[i], SIG_DFL);
		sigprocmask(SIG_SETMASK, old, NULL);
		setenv("CORELOCKER_MODEL", path, 1);
		execvp(av[0], av);
		err = errno;
		if (write(pfd[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pfd[1]);
	while (read(pfd[0], &err, sizeof(err)) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	if (err) {
		waitpid(*pid, NULL, 0);
		r = ax_fail(AX_USAGE, "cannot start %s: %s", av[0], strerror(err));
	}
out:
	for (size_t i = 0; i < argc; i++)
		free(av[i]);
	free(av);
	return r;
}

static int exit_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

/* Wait for CMD until DEADLINE (monotonic seconds; -1: forever), forwarding signals: 1 ended, 0 not yet. */
static int wait_child(pid_t pid, const sigset_t *set, int64_t deadline, int *st, int *timed_out)
{
	siginfo_t si;

	*timed_out = 0;
	for (;;) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 1;
		int64_t left = deadline < 0 ? 3600 : deadline - now_mono();
		if (left <= 0) {
			*timed_out = 1;
			return 0;
		}
		struct timespec ts = {(time_t)left, 0};
		int sig = sigtimedwait(set, &si, &ts);
		if (sig < 0) {
			if (errno == EAGAIN && deadline >= 0 && now_mono() >= deadline) {
				*timed_out = 1;
				return 0;
			}
			continue;
		}
		if (sig != SIGCHLD)
			kill(pid, sig);
	}
}

/* SIGTERM, then SIGKILL after GRACE seconds; CMD's wait status in *ST. */
static void stop(pid_t pid, const sigset_t *set, int64_t grace, int *st)
{
	int timed_out;

	kill(pid, SIGTERM);
	if (wait_child(pid, set, now_mono() + grace, st, &timed_out))
		return;
	fprintf(stderr, "corelocker-agent: CMD (pid %d) did not end within %lld s of SIGTERM: SIGKILL\n",
		(int)pid, (long long)grace);
	kill(pid, SIGKILL);
	while (waitpid(pid, st, 0) < 0 && errno == EINTR)
		;
}

static void fmt_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || !gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "none");
}

/* What run knows of the license while CMD runs; STATUS set (and REASON) when CMD must stop. */
struct watch {
	const struct run_args *ra;
	char tier[65];	  /* the tier CMD's model was unlocked to */
	int64_t deadline; /* the lease lapses then (monotonic); -1: no lease */
	int64_t interval;
	char reason[600];
	int status;
};

static void renewed(struct watch *w, const struct ag_answer *an)
{
	int64_t len = an->lease_expires >= 0 ? an->lease_expires - (an->ts >= 0 ? an->ts : time(NULL)) : -1;

	w->deadline = len >= 0 ? now_mono() + len : -1;
	w->interval = w->ra->every ? w->ra->every : len >= 0 ? (len / 3 > 0 ? len / 3 : 1) : NO_LEASE_EVERY;
}

static void check(struct agent *a, struct watch *w)
{
	struct ag_answer an;
	int r = ag_check(a, w->deadline >= 0, &an);

	if (r < 0) {
		/* Not an answer about the license: keep going while the lease holds. */
		if (w->deadline >= 0 && now_mono() >= w->deadline) {
			snprintf(w->reason, sizeof(w->reason),
				 "the lease lapsed: no heartbeat got through in time (last: %s)",
				 cl_errmsg());
			w->status = AX_LEASE;
		} else {
			fprintf(stderr, "corelocker-agent: %s; trying again\n", cl_errmsg());
		}
		return;
	}
	if (ag_code_status(an.code) != AX_OK) {
		snprintf(w->reason, sizeof(w->reason), "the license is no longer valid: %s", an.code);
		w->status = ag_code_status(an.code);
		return;
	}
	if (strcmp(an.tier, w->tier)) {
		snprintf(w->reason, sizeof(w->reason),
			 "the license's tier is now '%s'; the running model was unlocked to tier '%s'",
			 an.tier, w->tier);
		w->status = AX_REFUSED;
		return;
	}
	renewed(w, &an);
}

int ag_run(struct agent *a, const struct run_args *ra)
{
	struct ag_memmodel mm;
	struct watch w = {.ra = ra, .deadline = -1};
	struct ag_answer first;
	sigset_t set, old;
	int index_fd = -1, model_fd, st = 0, r, timed_out;
	pid_t pid;

	if ((r = ag_unlock_memory(a, ra->locked, &mm)) < 0)
		return r;
	for (uint32_t i = 0; i < mm.n && r == 0; i++)
		r = seal(mm.fds[i], mm.names[i]);
	if (r == 0 && mm.sharded)
		r = index_memfd(&mm, &index_fd);
	if (r < 0)
		goto out;
	model_fd = mm.sharded ? index_fd : mm.fds[0];
	memcpy(w.tier, mm.tier, sizeof(w.tier));
	first.lease_expires = mm.lease_expires;
	first.ts = mm.ts;
	renewed(&w, &first);

	/* Blocked before the fork, so no signal slips between fork and the wait. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (mm.sharded) { /* the index and every shard stay open in CMD */
		int *keep = realloc(mm.fds, (mm.n + 1) * sizeof(*keep));
		if (!keep) {
			r = cl_fail(CL_ENOMEM, "out of memory");
			goto unblock;
		}
		mm.fds = keep;
		keep[mm.n] = index_fd;
		r = start(ra->cmd, keep, mm.n + 1, model_fd, &old, &pid);
	} else {
		r = start(ra->cmd, mm.fds, mm.n, model_fd, &old, &pid);
	}
	if (r < 0)
		goto unblock;
	if (index_fd >= 0)
		close(index_fd), index_fd = -1;
	ag_memmodel_free(&mm); /* CMD holds the model now: the agent lets go of it */
	if (!a->quiet)
		fprintf(stderr, "corelocker-agent: started %s (pid %d); checking the license every %lld s\n",
			ra->cmd[0], (int)pid, (long long)w.interval);

	for (;;) {
		int64_t next = now_mono() + w.interval;
		if (w.deadline >= 0 && next > w.deadline) /* one last try right at the lapse */
			next = w.deadline;
		if (wait_child(pid, &set, next, &st, &timed_out)) {
			a->exit_status = exit_of(st);
			break;
		}
		check(a, &w);
		if (w.status) {
			fprintf(stderr, "corelocker-agent: stopping %s (pid %d): %s\n", ra->cmd[0], (int)pid,
				w.reason);
			stop(pid, &set, ra->grace, &st);
			a->exit_status = w.status;
			break;
		}
	}
	r = 0;
unblock:
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	if (index_fd >= 0)
		close(index_fd);
	ag_memmodel_free(&mm);
	return r;
}

int ag_heartbeat(struct agent *a, int64_t every)
{
	struct ag_answer an;
	char when[32];
	int r;

	for (;;) {
		if ((r = ag_check(a, 1, &an)) < 0)
			return r;
		fmt_time(an.lease_expires, when);
		printf("%s lease_expires=%s\n", an.code, when);
		fflush(stdout);
		if ((r = ag_code_status(an.code)) != AX_OK)
			return ax_fail(r, "%s", ag_code_text(an.code)); /* the code is on stdout already */
		if (!every)
			return 0;
		sleep((unsigned)every);
	}
}
