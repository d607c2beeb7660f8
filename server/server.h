/*
 * server.h - the daemon's shared state: configuration, keys and the HTTPS
 * daemon.  Filled once by main() before the first request, read-only after.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include <stdint.h>

#include "conf.h"
#include "sign.h"

struct server {
	struct config *cfg;
	struct cl_signkey *sk;
	char *pub_pem;
	uint8_t master[32];    /* AES-256-GCM key for data at rest */
	uint8_t token_key[32]; /* HMAC key of token and license-key hashes */
	char *spool;           /* folder for uploads in progress */
};

extern struct server srv;

/* Read the master key file (32 bytes, mode 0600) and derive token_key. */
int server_load_master(const char *path);

#endif
