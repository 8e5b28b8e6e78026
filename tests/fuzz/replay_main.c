/*
 * replay_main: runs a libFuzzer target without libFuzzer, so that CI
 * replays every fuzz corpus with any compiler.
 *
 *	fuzz_x DIR	every regular file in DIR, one input each
 *	fuzz_x FILE...	those files
 *	fuzz_x		one input from stdin
 *
 * Prints "N inputs replayed". A crash or a sanitizer report fails it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX	(16u * 1024 * 1024)	/* bytes of one input */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
run_stream(FILE *f, const char *name)
{
	uint8_t	*p = NULL, *np;
	size_t	 len = 0, cap = 0, n;
	int	 rc = -1;

	for (;;) {
		if (cap - len < 65536) {
			if (cap >= REPLAY_MAX) {
				fprintf(stderr, "replay: %s: over %u bytes\n",
				    name, REPLAY_MAX);
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			if ((np = realloc(p, cap)) == NULL)
				goto out;
			p = np;
		}
		n = fread(p + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", name);
		goto out;
	}
	/* Exactly len bytes, so that ASan sees reads past the input. */
	if ((np = malloc(len ? len : 1)) == NULL)
		goto out;
	memcpy(np, p, len);
	(void)LLVMFuzzerTestOneInput(np, len);
	free(np);
	rc = 0;
out:
	free(p);
	return rc;
}

static int
run_file(const char *path)
{
	FILE	*f;
	int	 rc;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	rc = run_stream(f, path);
	fclose(f);
	return rc;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of dir in name order (a stable replay order). */
static int
run_dir(const char *dir, unsigned long *count)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[4096], **names = NULL, **nn;
	size_t		 n = 0, cap = 0, i;
	int		 rc = 0;

	if ((d = opendir(dir)) == NULL) {
		perror(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(names, cap * sizeof(*nn))) == NULL) {
				rc = -1;
				goto out;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = -1;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmpstr);
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
		    (int)sizeof(path))
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(path) != 0) {
			rc = -1;
			goto out;
		}
		(*count)++;
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat	st;
	unsigned long	count = 0;
	int		i;

	if (argc < 2) {
		if (run_stream(stdin, "<stdin>") != 0)
			return 1;
		count = 1;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) != 0)
				return 1;
		} else {
			if (run_file(argv[i]) != 0)
				return 1;
			count++;
		}
	}
	printf("%lu inputs replayed\n", count);
	return 0;
}
