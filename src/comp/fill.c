/*
 * fill.c: the holes of an output, once filled with a candidate's pieces
 * (bytes from elsewhere: a registry's blob, fetched by range), trusted
 * for nothing: each piece must have the CRC-32 the candidate gave it and
 * decompress, alone, into exactly the input of the block it stands for
 * (its SHA-256 and CRC-32, computed here from that input). Then the output
 * is hashed on from the state before the first hole.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>

#include "engine.h"

/* Reads n bytes at off of fd. */
static int read_at(int fd, unsigned char *buf, size_t n, uint64_t off, ocb_err *err) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return ocb_errno(err, r < 0 ? errno : EIO, "reading a filled output");
    got += (size_t)r;
  }
  return 0;
}

static int bad_piece(const ocb_hole *h, const char *why, ocb_err *err) {
  return ocb_errf(err, "BADPIECE", "the piece of block %llu (bytes %llu-%llu) %s",
                  (unsigned long long)h->k, (unsigned long long)h->at,
                  (unsigned long long)(h->at + h->len - 1), why);
}

/* One hole: its piece read, checked and decompressed into out. */
static int check_one(const ocb_fill *f, void *d, const ocb_hole *h, unsigned char *piece,
                     unsigned char *out, ocb_err *err) {
  const ocb_block *c = &f->cand->v[h->j], *b = &f->now->v[h->k];
  uint64_t want = b->tend - ocb_blocks_tstart(f->now, h->k);
  unsigned char id[32];
  if (h->len + OCB_PIECE_SLACK > f->pcap || want > f->cap) return bad_piece(h, "is too large", err);
  if (read_at(f->fd, piece, (size_t)h->len, h->at, err) < 0) return -1;
  if ((uint32_t)libdeflate_crc32(0, piece, (size_t)h->len) != c->ocrc)
    return bad_piece(h, "is not the bytes the cache's record names", err);
  if (f->eng->unblock(d, piece, (size_t)h->len, out, (size_t)want) < 0)
    return bad_piece(h, "does not decompress into the block", err);
  ocb_sha256_digest(out, (size_t)want, id);
  if (memcmp(id, b->id, 32) != 0 || (uint32_t)libdeflate_crc32(0, out, (size_t)want) != b->crc)
    return bad_piece(h, "decompresses into other bytes than the block's", err);
  return 0;
}

typedef struct checker {
  const ocb_fill *f;
  pthread_mutex_t mu;
  uint64_t next; /* the next hole to take */
  int failed;
  ocb_err err;
} checker;

static void *check_thread(void *arg) {
  checker *ck = arg;
  const ocb_fill *f = ck->f;
  unsigned char *piece = malloc(f->pcap), *out = malloc(f->cap);
  void *d = f->eng->dnew();
  ocb_err err;
  for (;;) {
    uint64_t i;
    int r;
    pthread_mutex_lock(&ck->mu);
    i = ck->next++;
    if (ck->failed || i >= f->n) {
      pthread_mutex_unlock(&ck->mu);
      break;
    }
    pthread_mutex_unlock(&ck->mu);
    r = piece && out && d ? check_one(f, d, &f->holes[i], piece, out, &err)
                          : ocb_errno(&err, ENOMEM, "checking pieces");
    if (r < 0) {
      pthread_mutex_lock(&ck->mu);
      if (!ck->failed) ck->err = err;
      ck->failed = 1;
      pthread_mutex_unlock(&ck->mu);
    }
  }
  if (d) f->eng->dfree(d);
  free(piece);
  free(out);
  return NULL;
}

int ocb_fill_check(const ocb_fill *f, int threads, ocb_err *err) {
  pthread_t t[64];
  checker ck;
  int i, n = 0;
  if (f->eng->passthrough || f->n == 0) return 0;
  memset(&ck, 0, sizeof ck);
  ck.f = f;
  pthread_mutex_init(&ck.mu, NULL);
  if (threads > 64) threads = 64;
  for (i = 1; i < threads && (uint64_t)i < f->n; i++)
    if (pthread_create(&t[n], NULL, check_thread, &ck) == 0) n++;
  check_thread(&ck); /* this thread takes holes too */
  for (i = 0; i < n; i++) pthread_join(t[i], NULL);
  pthread_mutex_destroy(&ck.mu);
  if (ck.failed) {
    *err = ck.err;
    return -1;
  }
  return 0;
}

int ocb_fill_hash(const ocb_fill *f, const ocb_sha256_state *from, ocb_blocks *now, uint64_t first,
                  uint64_t size, char digest[OCB_DIGEST_BUF], ocb_err *err) {
  ocb_sha256 *h = ocb_sha256_resume(from);
  unsigned char *buf = malloc(1u << 20);
  uint64_t pos = from->bytes, k = first;
  int rc = -1;
  if (!h || !buf) {
    ocb_errno(err, ENOMEM, "hashing a filled output");
    goto done;
  }
  while (pos < size) {
    /* reads end at each block's end, where its state is taken */
    uint64_t end = k < now->n && now->v[k].oend < size ? now->v[k].oend : size;
    size_t n = end - pos > (1u << 20) ? 1u << 20 : (size_t)(end - pos);
    if (n && read_at(f->fd, buf, n, pos, err) < 0) goto done;
    ocb_sha256_update(h, buf, n);
    pos += n;
    while (k < now->n && now->v[k].oend <= pos) ocb_sha256_save_floor(h, &now->v[k++].ost);
  }
  ocb_sha256_final(h, digest);
  rc = 0;
done:
  ocb_sha256_free(h);
  free(buf);
  return rc;
}
