/*
 * LD_PRELOAD shim for ngtcp2's example server (Debian ngtcp2-server, gtlsserver 0.12): the lab's
 * QUIC real servers must issue connection ids that carry their server id in the layout the gateway
 * reads (docs/schedulers.md, "QUIC"): byte 0 free, bytes 1-2 the quic_id big-endian, the rest
 * random. The example server draws every connection id it issues -- the SCID of its first
 * Initial, each NEW_CONNECTION_ID, a Retry's SCID, the preferred address's -- from
 * util::generate_secure_random() with NGTCP2_SV_SCIDLEN = 18 bytes, which calls gnutls_rnd()
 * from the binary. This shim wraps gnutls_rnd: the real random bytes first, then, for an 18-byte
 * draw, bytes 1-2 overwritten with $PC_QUIC_SERVER_ID. Other sizes (TLS randoms, the 16-byte
 * stateless reset and token secrets, the 32-byte static secret) pass untouched. gnutls' own
 * internal calls do not go through this symbol, so TLS is not affected.
 * Built at test time: cc -shared -fPIC -O2 -o cid-shim.so cid-shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

enum { kServerCidLength = 18 };

typedef int (*gnutls_rnd_fn)(int level, void *data, size_t len);

int gnutls_rnd(int level, void *data, size_t len) {
  static gnutls_rnd_fn real;
  if (!real) real = (gnutls_rnd_fn)dlsym(RTLD_NEXT, "gnutls_rnd");
  if (!real) abort();
  int rv = real(level, data, len);
  const char *id_text = getenv("PC_QUIC_SERVER_ID");
  if (rv == 0 && len == kServerCidLength && id_text) {
    unsigned long id = strtoul(id_text, NULL, 0);
    uint8_t *cid = (uint8_t *)data;
    cid[1] = (uint8_t)(id >> 8);
    cid[2] = (uint8_t)id;
  }
  return rv;
}
