/*
 * log: cajad's logging, to stderr (foreground, -d) or syslog (daemon).
 *
 * Messages say what happened and to whom ("append from client 3 refused:
 * price_bs: ..."). log_warn() appends strerror(errno); the -x forms do not.
 * log_debug() prints only at level LOG_LEVEL_DEBUG. Levels can change at
 * run time (SIGHUP). Main thread only for log_init/log_setlevel; the
 * message functions may be called from any thread (stdio and syslog lock).
 */
#ifndef CAJA_LOG_H
#define CAJA_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "proto/err.h"

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

#define LOG_LINE_MAX	1024

/* foreground: 1 logs to stderr, 0 to syslog (facility daemon). */
void	log_init(const char *progname, int foreground, int level);
void	log_setlevel(int level);
int	log_getlevel(void);
/* Switch between stderr and syslog after daemonizing. */
void	log_setforeground(int foreground);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int	log_level_from_name(const char *);
const char	*log_level_name(int);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * snprintf for the one-line messages returned to callers and clients
 * (cap includes the NUL): truncation is fine, and this says so to the
 * compiler. Any thread.
 */
void	msgf(char *out, size_t cap, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
