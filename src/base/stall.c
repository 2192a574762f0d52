/*
 * stall.c: a watch over one thread that must keep reporting progress. The
 * watched thread beats (ocb_stall_beat) as it goes; a watcher thread looks
 * every 200 ms, and when the watched thread has burnt more than the limit
 * of CPU time with no beat and no hold (ocb_stall_hold) in between, it
 * writes one line, removes the process's temp files and ends the process
 * with status 1. It is the last resort for work nothing can interrupt: a
 * build script's call of a C library function (a pattern on a long
 * string) runs no instruction a count hook could stop. Time blocked in a
 * system call burns no CPU and is not counted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ocb.h"

struct ocb_stall {
  pthread_t watcher;
  clockid_t clock; /* the watched thread's CPU time */
  double limit;
  ocb_stall_say say;
  void *ud;
  unsigned long beats; /* __atomic */
  int held;            /* __atomic */
  int done;            /* under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
};

static double cpu(const ocb_stall *s) {
  struct timespec ts;
  if (clock_gettime(s->clock, &ts) < 0) return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stalled(ocb_stall *s) {
  char line[1024];
  int n = snprintf(line, sizeof line, "ocibuild: %s\n", s->say(s->ud, s->limit));
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1, line[n - 1] = '\n';
  if (n > 0 && write(2, line, (size_t)n) < 0) { /* nothing more to say it with */
  }
  ocb_temps_remove();
  _exit(1);
}

static void *watch(void *arg) {
  ocb_stall *s = arg;
  unsigned long seen = __atomic_load_n(&s->beats, __ATOMIC_RELAXED);
  double since = cpu(s);
  pthread_mutex_lock(&s->mu);
  while (!s->done) {
    struct timespec at;
    unsigned long now;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_nsec += 200 * 1000000L;
    if (at.tv_nsec >= 1000000000L) at.tv_sec++, at.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&s->cv, &s->mu, &at);
    if (s->done) break;
    now = __atomic_load_n(&s->beats, __ATOMIC_RELAXED);
    if (now != seen || __atomic_load_n(&s->held, __ATOMIC_RELAXED)) {
      seen = now, since = cpu(s);
      continue;
    }
    if (cpu(s) - since > s->limit) stalled(s);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

ocb_stall *ocb_stall_start(double limit, ocb_stall_say say, void *ud) {
  ocb_stall *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->limit = limit, s->say = say, s->ud = ud;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  if (pthread_getcpuclockid(pthread_self(), &s->clock) != 0 ||
      pthread_create(&s->watcher, NULL, watch, s) != 0) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
  }
  return s;
}

void ocb_stall_beat(ocb_stall *s) {
  if (s) __atomic_add_fetch(&s->beats, 1, __ATOMIC_RELAXED);
}

void ocb_stall_hold(ocb_stall *s, int held) {
  if (s) __atomic_store_n(&s->held, held, __ATOMIC_RELAXED);
}

void ocb_stall_stop(ocb_stall *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->done = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->watcher, NULL);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}
