/* cert.h - 'corelockerd cert --self-signed HOSTNAME': a first TLS key and certificate. */
#ifndef SRV_CERT_H
#define SRV_CERT_H

/* Write a new P-256 key (mode 0600) to KEY_PATH and a self-signed
 * certificate for HOST (a DNS name, or an IP address) to CERT_PATH; an
 * existing file is replaced only with FORCE.  0, or -1 with one line logged. */
int cert_self_signed(const char *host, const char *cert_path, const char *key_path, int force);

#endif
