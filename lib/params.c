/* params.c - names and counts shared by every command: units, scopes, rounding. */
#include <math.h>
#include <string.h>

#include "corelocker.h"

static const char *const unit_names[] = {"element", "neuron", "channel"};
static const char *const scope_names[] = {"layer", "global", "global-norm"};

const char *cl_unit_name(int unit)
{
	return unit >= 0 && unit < 3 ? unit_names[unit] : "?";
}

const char *cl_scope_name(int scope)
{
	return scope >= 0 && scope < 3 ? scope_names[scope] : "?";
}

int cl_unit_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, unit_names[i]) == 0)
			return i;
	return -1;
}

int cl_scope_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, scope_names[i]) == 0)
			return i;
	return -1;
}

uint64_t cl_count(double ratio, uint64_t n)
{
	double c = floor(ratio * (double)n + 0.5);
	if (!(c > 0))
		return 0;
	return c >= (double)n ? n : (uint64_t)c;
}
