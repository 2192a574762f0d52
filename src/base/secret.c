/*
 * secret.c: one line typed at a terminal without echoing it (a password
 * prompt). The prompt is written once echo is off, so that nothing typed
 * after it is echoed or thrown away. The terminal's settings are put back
 * however the read ends: on
 * SIGINT, SIGTERM, SIGHUP or SIGQUIT the read stops, the settings and the
 * signals' handlers are restored, and the signal is raised again for the
 * handler that was there (which removes temp files and ends the process).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ocb.h"

static const int SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSIGNALS (sizeof SIGNALS / sizeof SIGNALS[0])

/* The one piece of global state: a signal handler has no other way out. */
static volatile sig_atomic_t caught;

static void on_signal(int sig) {
  caught = sig;
}

/* Reads up to a newline (or end of input) into buf; the signal that
 * stopped it is left in `caught`. Returns 0, or an errno value. */
static int read_line(int fd, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  while (!caught) {
    char c;
    ssize_t got = read(fd, &c, 1);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (got == 0 || c == '\n') break;
    if (n + 1 >= cap) return EOVERFLOW;
    buf[n++] = c;
  }
  if (n > 0 && buf[n - 1] == '\r') n--;
  buf[n] = '\0';
  *len = n;
  return 0;
}

/* Writes s whole to standard error. Returns 0, or an errno value. */
static int say(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    s += w, n -= (size_t)w;
  }
  return 0;
}

int ocb_read_secret(int fd, const char *prompt, char *buf, size_t cap, size_t *len, ocb_err *err) {
  struct termios old, quiet;
  struct sigaction sa, saved[NSIGNALS];
  size_t i;
  int e;
  if (tcgetattr(fd, &old) < 0) return ocb_errno(err, errno, "the terminal");
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends the read */
  sigemptyset(&sa.sa_mask);
  caught = 0;
  for (i = 0; i < NSIGNALS; i++) sigaction(SIGNALS[i], &sa, &saved[i]);
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  quiet.c_lflag |= ECHONL; /* the newline still shows: the next output starts a line */
  e = tcsetattr(fd, TCSAFLUSH, &quiet) < 0 ? errno : say(prompt);
  if (!e) e = read_line(fd, buf, cap, len);
  tcsetattr(fd, TCSAFLUSH, &old);
  for (i = 0; i < NSIGNALS; i++) sigaction(SIGNALS[i], &saved[i], NULL);
  if (caught) {
    raise(caught);
    /* the handler returned (a host program's own): the read was cut short */
    memset(buf, 0, cap);
    return ocb_errf(err, "EINTR", "interrupted while reading from the terminal");
  }
  if (e) {
    memset(buf, 0, cap);
    return ocb_errno(err, e, "the terminal");
  }
  return 0;
}
