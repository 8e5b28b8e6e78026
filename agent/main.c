#define _GNU_SOURCE
/*
 * cajad: the caja agent of one register.
 *
 * Startup: options and config file -> effective configuration (-n: check,
 * -n -v: print it); the dir lock (flock on DIR/cajad.lock: one agent per
 * dir); without -d a double fork with a readiness pipe, so that the
 * starting shell sees startup errors and exit status; pid file; then the
 * poll loop (agent/loop.c) until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/conf.h"
#include "agent/ctl.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "proto/sig.h"

#define LOCK_TRIES	40	/* x 25 ms: a cajactl probe holds it briefly */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: cajad --dir DIR [-d] [-v] [-n] [-f FILE] [--listen tcp://IP:PORT]\n"
"             [--peer tcp://IP:PORT]... [--no-mdns] [--http IP:PORT|off]\n"
"             [--cloud URL] [--map-max SIZE] [--max-skew DURATION]\n"
"             [--log-level LEVEL] [--batch-max N]\n"
"\n"
"The caja agent of one register: keeps the store in DIR, serves cajactl on\n"
"DIR/ctl.sock, replicates with the store's other registers.\n"
"\n"
"  --dir DIR          data dir (made by cajactl init or join)   [dir]\n"
"  -d                 stay in the foreground, log to stderr     [foreground]\n"
"  -v                 verbose: log_level debug                   [log_level]\n"
"  -f FILE            config file of 'key = value' lines (flags win)\n"
"  -n                 check the configuration and exit; with -v print it\n"
"  --listen EP        peer endpoint (default " CONF_LISTEN_DEFAULT ")  [listen]\n"
"  --peer EP          static peer, repeatable                    [peer]\n"
"  --no-mdns          no Avahi publish/browse                    [mdns = no]\n"
"  --http ADDR        local HTTP API address (default " CONF_HTTP_DEFAULT "; off);\n"
"                     not served yet by this version             [http]\n"
"  --cloud URL        cloud endpoint, e.g. http://127.0.0.1:8080 [cloud]\n"
"  --map-max SIZE     largest store map, e.g. 512M, 4G           [map_max]\n"
"  --max-skew DUR     HLC skew bound, e.g. 300s, 5m              [max_skew]\n"
"  --log-level L      error, warn, info or debug                 [log_level]\n"
"  --batch-max N      requests per group commit (default %d)    [batch_max]\n"
"  -h, --help         this text\n"
"\n"
"Signals: SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP reloads the config\n"
"file (log_level, batch_max; other keys on restart).\n"
"Exit status: 0 clean stop or config OK, 1 bad usage or startup failure.\n",
	    CONF_BATCH_DEFAULT);
}

static void
die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "cajad: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	exit(1);
}

/* Takes DIR's lock; the fd stays open (and the lock held) until exit. */
static int
take_lock(const char *dir, int *fdp)
{
	char	path[PATH_MAX];
	long	pid;
	int	fd, i;

	if (ctl_path(path, sizeof(path), dir, CTL_LOCK_NAME)) {
		fprintf(stderr, "cajad: %s: path too long\n", dir);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "cajad: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			*fdp = fd;
			return 0;
		}
		if (errno != EWOULDBLOCK) {
			fprintf(stderr, "cajad: lock %s: %s\n", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		usleep(25 * 1000);
	}
	close(fd);
	(void)ctl_agent_running(dir, &pid);
	if (pid > 0)
		fprintf(stderr, "cajad: another cajad (pid %ld) is already "
		    "running on %s\n", pid, dir);
	else
		fprintf(stderr, "cajad: another cajad is already running on "
		    "%s (%s is locked)\n", dir, path);
	return -1;
}

static int
write_pidfile(const char *dir)
{
	char	path[PATH_MAX], buf[32];
	int	fd, n;

	if (ctl_path(path, sizeof(path), dir, CTL_PID_NAME))
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1) {
		log_warn("pid file %s", path);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		log_warn("pid file %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void
remove_runfiles(const char *dir)
{
	char	path[PATH_MAX];

	if (!ctl_path(path, sizeof(path), dir, CTL_PID_NAME))
		(void)unlink(path);
	if (!ctl_path(path, sizeof(path), dir, CTL_SOCK_NAME))
		(void)unlink(path);
}

/*
 * Double fork. The parent waits on a pipe for the daemon's "ready" byte
 * and exits 0, or 1 when the daemon failed to start (it printed why).
 * Returns, in the daemon, the pipe's write end.
 */
static int
daemonize(void)
{
	int	pfd[2];
	char	c;
	pid_t	pid;
	ssize_t	n;

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		fprintf(stderr, "cajad: pipe: %s\n", strerror(errno));
		exit(1);
	}
	if ((pid = fork()) == -1) {
		fprintf(stderr, "cajad: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(pfd[1]);
		(void)waitpid(pid, NULL, 0);
		do
			n = read(pfd[0], &c, 1);
		while (n == -1 && errno == EINTR);
		if (n == 1 && c == 0)
			exit(0);
		if (n != 1)
			fprintf(stderr, "cajad: the daemon died while "
			    "starting\n");
		exit(1);
	}
	close(pfd[0]);
	if (setsid() == -1) {
		fprintf(stderr, "cajad: setsid: %s\n", strerror(errno));
		_exit(1);
	}
	if ((pid = fork()) == -1) {
		fprintf(stderr, "cajad: fork: %s\n", strerror(errno));
		_exit(1);
	}
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		_exit(1);
	return pfd[1];
}

static void
notify_ready(int fd, int ok)
{
	char	c = ok ? 0 : 1;
	int	nul;

	if (fd == -1)
		return;
	(void)write(fd, &c, 1);
	close(fd);
	if (ok && (nul = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(nul, STDIN_FILENO);
		(void)dup2(nul, STDOUT_FILENO);
		(void)dup2(nul, STDERR_FILENO);
		if (nul > STDERR_FILENO)
			close(nul);
	}
}

enum {
	OPT_DIR = 256, OPT_LISTEN, OPT_PEER, OPT_NO_MDNS, OPT_HTTP, OPT_CLOUD,
	OPT_MAP_MAX, OPT_MAX_SKEW, OPT_LOG_LEVEL, OPT_BATCH_MAX
};

static const struct option longopts[] = {
	{ "dir",	required_argument,	NULL,	OPT_DIR },
	{ "listen",	required_argument,	NULL,	OPT_LISTEN },
	{ "peer",	required_argument,	NULL,	OPT_PEER },
	{ "no-mdns",	no_argument,		NULL,	OPT_NO_MDNS },
	{ "http",	required_argument,	NULL,	OPT_HTTP },
	{ "cloud",	required_argument,	NULL,	OPT_CLOUD },
	{ "map-max",	required_argument,	NULL,	OPT_MAP_MAX },
	{ "max-skew",	required_argument,	NULL,	OPT_MAX_SKEW },
	{ "log-level",	required_argument,	NULL,	OPT_LOG_LEVEL },
	{ "batch-max",	required_argument,	NULL,	OPT_BATCH_MAX },
	{ "help",	no_argument,		NULL,	'h' },
	{ NULL,		0,			NULL,	0 }
};

int
main(int argc, char *argv[])
{
	static struct conf_arg	 args[CONF_ARGS_MAX];
	static struct conf	 conf;
	static char		 file[PATH_MAX], dir[PATH_MAX];
	struct loop		*l = NULL;
	char			 err[LOOP_ERRMSG > CONF_ERRMSG ?
				    LOOP_ERRMSG : CONF_ERRMSG];
	const char		*key;
	size_t			 nargs = 0;
	int			 ch, check = 0, verbose = 0, fg = 0;
	int			 lockfd = -1, readyfd = -1, rc;

	umask(0077);
	/*
	 * Each append runs in two nested LMDB transactions (store/append.c),
	 * and LMDB gives each one a 2 MiB dirty list and a 1 MiB free list.
	 * With glibc's defaults, free() hands them back to the kernel at
	 * once: two munmap or brk calls per append, then page faults, and a
	 * TLB shootdown on every core that runs one of our threads. Kept in
	 * the heap they cost a malloc (BENCHMARKS.md: less CPU and latency
	 * per append). Larger blocks still come from mmap.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 16 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
	while ((ch = getopt_long(argc, argv, "dvnf:h", longopts, NULL)) != -1) {
		key = NULL;
		switch (ch) {
		case 'd':
			fg = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'n':
			check = 1;
			break;
		case 'f':
			if (realpath(optarg, file) == NULL)
				die("%s: %s", optarg, strerror(errno));
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_DIR:
			key = "dir";
			break;
		case OPT_LISTEN:
			key = "listen";
			break;
		case OPT_PEER:
			key = "peer";
			break;
		case OPT_NO_MDNS:
			key = "mdns";
			optarg = "no";
			break;
		case OPT_HTTP:
			key = "http";
			break;
		case OPT_CLOUD:
			key = "cloud";
			break;
		case OPT_MAP_MAX:
			key = "map_max";
			break;
		case OPT_MAX_SKEW:
			key = "max_skew";
			break;
		case OPT_LOG_LEVEL:
			key = "log_level";
			break;
		case OPT_BATCH_MAX:
			key = "batch_max";
			break;
		default:
			fprintf(stderr, "cajad: try 'cajad --help'\n");
			return 1;
		}
		if (key != NULL) {
			if (nargs >= CONF_ARGS_MAX)
				die("%s%s", "too many options", "");
			args[nargs].key = key;
			args[nargs].value = optarg;
			nargs++;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cajad: unexpected argument '%s'; try "
		    "'cajad --help'\n", argv[optind]);
		return 1;
	}
	/* -d and -v have config twins: foreground = yes, log_level = debug */
	if (fg && nargs < CONF_ARGS_MAX) {
		args[nargs].key = "foreground";
		args[nargs++].value = "yes";
	}
	if (verbose && !check && nargs < CONF_ARGS_MAX) {
		args[nargs].key = "log_level";
		args[nargs++].value = "debug";
	}
	if (conf_build(&conf, file[0] ? file : NULL, args, nargs, err) != 0) {
		fprintf(stderr, "cajad: %s\n", err);
		return 1;
	}
	if (realpath(conf.dir, dir) == NULL)
		die("data dir %s: %s", conf.dir, strerror(errno));
	if (snprintf(conf.dir, sizeof(conf.dir), "%s", dir) >=
	    (int)sizeof(conf.dir))
		die("%s: %s", dir, "path too long");
	if (check) {
		if (verbose)
			conf_print(stdout, &conf);
		else
			printf("configuration OK\n");
		return 0;
	}

	log_init("cajad", 1, conf.log_level);
	if (sig_init() != 0)
		die("%s%s", "libsodium initialisation failed", "");
	if (take_lock(conf.dir, &lockfd) == -1)
		return 1;
	if (!conf.foreground)
		readyfd = daemonize();
	if (write_pidfile(conf.dir) == -1) {
		notify_ready(readyfd, 0);
		return 1;
	}
	if ((rc = loop_new(&l, &conf, args, nargs, err)) != 0) {
		fprintf(stderr, "cajad: %s\n", err);
		if (!conf.foreground)
			log_setforeground(0);
		log_error("not started: %s", err);
		remove_runfiles(conf.dir);
		notify_ready(readyfd, 0);
		return 1;
	}
	notify_ready(readyfd, 1);
	if (!conf.foreground)
		log_setforeground(0);
	log_info("started on %s (pid %ld)%s", conf.dir, (long)getpid(),
	    conf.foreground ? ", foreground" : "");
	if (strcmp(conf.http, "off") != 0)
		log_info("http: the local HTTP API (%s) is not served by this "
		    "version; use cajactl", conf.http);
	rc = loop_run(l);
	loop_destroy(&l);
	remove_runfiles(conf.dir);
	log_info("exiting (%s)", rc == 0 ? "clean stop" : err_str(rc));
	close(lockfd);
	return rc == 0 ? 0 : 1;
}
