/*
 * log: stderr or syslog, like bgpd's log.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "agent/log.h"

static int		 log_fg = 1;
static int		 log_lvl = LOG_LEVEL_INFO;
static const char	*log_prog = "cajad";

static const char *const level_names[] = {
	"error", "warn", "info", "debug"
};

void
log_init(const char *progname, int foreground, int level)
{
	if (progname != NULL)
		log_prog = progname;
	log_lvl = level;
	log_setforeground(foreground);
}

void
log_setforeground(int foreground)
{
	if (!log_fg)
		closelog();
	log_fg = foreground;
	if (!log_fg)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setlevel(int level)
{
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	log_lvl = level;
}

int
log_getlevel(void)
{
	return log_lvl;
}

int
log_level_from_name(const char *s)
{
	size_t	i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LEVEL_WARN;
	return -1;
}

const char *
log_level_name(int l)
{
	if (l < 0 || l > LOG_LEVEL_DEBUG)
		return "unknown";
	return level_names[l];
}

static void
vlog(int level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[LOG_LINE_MAX];
	int		 saved = errno, pri, n;
	struct timespec	 ts;
	struct tm	 tm;

	if (level > log_lvl)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(line))
		(void)snprintf(line + n, sizeof(line) - (size_t)n, ": %s",
		    strerror(saved));
	if (log_fg) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%s]: %s\n",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_prog,
		    level_names[level], line);
		fflush(stderr);
	} else {
		switch (level) {
		case LOG_LEVEL_ERROR:
			pri = LOG_ERR;
			break;
		case LOG_LEVEL_WARN:
			pri = LOG_WARNING;
			break;
		case LOG_LEVEL_INFO:
			pri = LOG_INFO;
			break;
		default:
			pri = LOG_DEBUG;
			break;
		}
		syslog(pri, "%s", line);
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
msgf(char *out, size_t cap, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}
