/*
 * secret.c: a passphrase typed at the controlling terminal, never echoed:
 * the prompt and the answer go through /dev/tty (standard input and
 * output may be pipes), echo is turned off for the line and restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sign/sign.h"

static int put(int fd, const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    s += w, n -= (size_t)w;
  }
  return 0;
}

/* One line from fd into buf (without its newline); -1 with errno set. */
static int line(int fd, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0 || c == '\n') break;
    if (n + 1 >= cap) return errno = EOVERFLOW, -1;
    buf[n++] = c;
  }
  if (n > 0 && buf[n - 1] == '\r') n--;
  buf[n] = '\0';
  *len = n;
  return 0;
}

int ocb_secret_read(const char *prompt, char *buf, size_t cap, size_t *len, ocb_err *err) {
  struct termios old, quiet;
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC), rc, e;
  if (fd < 0 || tcgetattr(fd, &old) < 0) {
    if (fd >= 0) close(fd);
    return ocb_errf(err, "ENOTTY", "ENOTTY: no terminal to ask for the passphrase");
  }
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
  quiet.c_lflag |= ICANON;
  /* Echo off first: once the prompt shows, what is typed is not shown. */
  if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
    e = errno;
    close(fd);
    return ocb_errno(err, e, "/dev/tty");
  }
  rc = put(fd, prompt);
  if (rc == 0) rc = line(fd, buf, cap, len);
  e = errno;
  tcsetattr(fd, TCSAFLUSH, &old);
  put(fd, "\n");
  close(fd);
  if (rc < 0) {
    memset(buf, 0, cap);
    return ocb_errno(err, e, "/dev/tty");
  }
  return 0;
}
