/*
 * init.c - test helper copied into container root filesystems as /init.
 *
 * Build: gcc -static -O2 -Wall -Wextra -o init init.c
 *
 * argv[1] selects a subcommand.  Results go to stdout as plain text, one
 * value per line.  Exit status is 0 on success; failures print a message on
 * stderr and exit non-zero (2 for usage errors).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *cur_cmd = "init";

static void usage(void);

static void die(const char *what)
{
        fprintf(stderr, "init: %s: %s: %s\n", cur_cmd, what, strerror(errno));
        exit(1);
}

static void fail(const char *msg)
{
        fprintf(stderr, "init: %s: %s\n", cur_cmd, msg);
        exit(1);
}

static long parse_long(const char *s)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end != '\0') {
                fprintf(stderr, "init: %s: invalid number '%s'\n", cur_cmd, s);
                exit(2);
        }
        return v;
}

/* Copy a file to stdout unchanged. */
static void dump_file(const char *path)
{
        char buf[8192];
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                die(path);
        fflush(stdout);
        while ((n = read(fd, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die(path);
                }
                if (fwrite(buf, 1, n, stdout) != (size_t)n)
                        die("write");
        }
        close(fd);
        fflush(stdout);
}

/* Calls fn for every line of path that starts with "KEY:" for a listed key. */
static void scan_status(const char *const *keys,
                        void (*fn)(const char *key, const char *line))
{
        char line[4096];
        FILE *f;
        size_t i, len;

        f = fopen("/proc/self/status", "re");
        if (!f)
                die("/proc/self/status");
        while (fgets(line, sizeof(line), f)) {
                for (i = 0; keys[i]; i++) {
                        len = strlen(keys[i]);
                        if (strncmp(line, keys[i], len) == 0 && line[len] == ':') {
                                fn(keys[i], line);
                                break;
                        }
                }
        }
        fclose(f);
}

static void print_line(const char *key, const char *line)
{
        (void)key;
        fputs(line, stdout);
}

static void print_cap(const char *key, const char *line)
{
        const char *v = line + strlen(key) + 1;

        while (*v == ' ' || *v == '\t')
                v++;
        printf("%s=%.*s\n", key, (int)strcspn(v, " \t\n"), v);
}

static const char *const cap_keys[] = {
        "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", NULL
};

static int cmd_status(int argc, char **argv)
{
        static const char *const keys[] = {
                "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff",
                "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
                "Seccomp_filters", NULL
        };

        (void)argc, (void)argv;
        scan_status(keys, print_line);
        return 0;
}

static int cmd_caps(int argc, char **argv)
{
        (void)argc, (void)argv;
        scan_status(cap_keys, print_cap);
        return 0;
}

static int cmd_id(int argc, char **argv)
{
        gid_t groups[NGROUPS_MAX];
        int i, n;

        (void)argc, (void)argv;
        n = getgroups(NGROUPS_MAX, groups);
        if (n < 0)
                die("getgroups");
        printf("uid=%u gid=%u groups=", (unsigned)getuid(), (unsigned)getgid());
        for (i = 0; i < n; i++)
                printf("%s%u", i ? "," : "", (unsigned)groups[i]);
        putchar('\n');
        return 0;
}

static int cmd_cwd(int argc, char **argv)
{
        char buf[PATH_MAX];

        (void)argc, (void)argv;
        if (!getcwd(buf, sizeof(buf)))
                die("getcwd");
        puts(buf);
        return 0;
}

static int cmd_env(int argc, char **argv)
{
        const char *v;
        char **e;

        if (argc < 3) {
                for (e = environ; *e; e++)
                        puts(*e);
                return 0;
        }
        v = getenv(argv[2]);
        if (!v) {
                fprintf(stderr, "init: env: %s is not set\n", argv[2]);
                return 1;
        }
        puts(v);
        return 0;
}

static int cmp_int(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;

        return (x > y) - (x < y);
}

static int cmd_fds(int argc, char **argv)
{
        int fds[4096];
        size_t i, n = 0;
        struct dirent *de;
        DIR *d;
        int self;

        (void)argc, (void)argv;
        d = opendir("/proc/self/fd");
        if (!d)
                die("/proc/self/fd");
        self = dirfd(d);
        while ((de = readdir(d)) && n < sizeof(fds) / sizeof(fds[0])) {
                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                if (atoi(de->d_name) != self)
                        fds[n++] = atoi(de->d_name);
        }
        closedir(d);
        qsort(fds, n, sizeof(fds[0]), cmp_int);
        for (i = 0; i < n; i++)
                printf("%d\n", fds[i]);
        return 0;
}

static const struct {
        const char *name;
        int resource;
} rlimits[] = {
        { "CPU", RLIMIT_CPU },         { "FSIZE", RLIMIT_FSIZE },
        { "DATA", RLIMIT_DATA },       { "STACK", RLIMIT_STACK },
        { "CORE", RLIMIT_CORE },       { "RSS", RLIMIT_RSS },
        { "NPROC", RLIMIT_NPROC },     { "NOFILE", RLIMIT_NOFILE },
        { "MEMLOCK", RLIMIT_MEMLOCK }, { "AS", RLIMIT_AS },
        { "LOCKS", RLIMIT_LOCKS },     { "SIGPENDING", RLIMIT_SIGPENDING },
        { "MSGQUEUE", RLIMIT_MSGQUEUE }, { "NICE", RLIMIT_NICE },
        { "RTPRIO", RLIMIT_RTPRIO },   { "RTTIME", RLIMIT_RTTIME },
};

static void print_rlim(rlim_t v, char sep)
{
        if (v == RLIM_INFINITY)
                printf("unlimited%c", sep);
        else
                printf("%llu%c", (unsigned long long)v, sep);
}

static int cmd_limits(int argc, char **argv)
{
        (void)argc, (void)argv;
        dump_file("/proc/self/limits");
        return 0;
}

static int cmd_rlimit(int argc, char **argv)
{
        const char *name = argv[2];
        struct rlimit rl;
        size_t i;

        (void)argc;
        if (strncasecmp(name, "RLIMIT_", 7) == 0)
                name += 7;
        for (i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++) {
                if (strcasecmp(name, rlimits[i].name) != 0)
                        continue;
                if (getrlimit(rlimits[i].resource, &rl) < 0)
                        die("getrlimit");
                print_rlim(rl.rlim_cur, ' ');
                print_rlim(rl.rlim_max, '\n');
                return 0;
        }
        fprintf(stderr, "init: rlimit: unknown resource '%s'\n", argv[2]);
        return 2;
}

static int cmd_umask(int argc, char **argv)
{
        mode_t m = umask(0);

        (void)argc, (void)argv;
        umask(m);
        printf("%04o\n", (unsigned)m);
        return 0;
}

static int cmd_uname(int argc, char **argv)
{
        struct utsname u;

        (void)argc;
        if (uname(&u) < 0)
                die("uname");
        puts(strcmp(argv[1], "hostname") == 0 ? u.nodename : u.domainname);
        return 0;
}

static int cmd_cat(int argc, char **argv)
{
        int i;

        for (i = 2; i < argc; i++)
                dump_file(argv[i]);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_ls(int argc, char **argv)
{
        char **names = NULL;
        size_t i, n = 0, cap = 0;
        struct dirent *de;
        DIR *d;

        (void)argc;
        d = opendir(argv[2]);
        if (!d)
                die(argv[2]);
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        names = realloc(names, cap * sizeof(*names));
                        if (!names)
                                die("realloc");
                }
                names[n] = strdup(de->d_name);
                if (!names[n++])
                        die("strdup");
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp_str);
        for (i = 0; i < n; i++) {
                puts(names[i]);
                free(names[i]);
        }
        free(names);
        return 0;
}

static int cmd_stat(int argc, char **argv)
{
        const char *type = "unknown";
        struct stat st;

        (void)argc;
        if (lstat(argv[2], &st) < 0)
                die(argv[2]);
        switch (st.st_mode & S_IFMT) {
        case S_IFREG: type = "file"; break;
        case S_IFDIR: type = "dir"; break;
        case S_IFCHR: type = "chr"; break;
        case S_IFBLK: type = "blk"; break;
        case S_IFLNK: type = "link"; break;
        case S_IFIFO: type = "fifo"; break;
        case S_IFSOCK: type = "sock"; break;
        }
        printf("%s %04o %u %u %u %u\n", type, (unsigned)(st.st_mode & 07777),
               (unsigned)st.st_uid, (unsigned)st.st_gid,
               major(st.st_rdev), minor(st.st_rdev));
        return 0;
}

static int cmd_write(int argc, char **argv)
{
        size_t len = strlen(argv[3]);
        int fd;

        (void)argc;
        fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die(argv[2]);
        if (write(fd, argv[3], len) != (ssize_t)len)
                die("write");
        if (close(fd) < 0)
                die("close");
        return 0;
}

static int cmd_mkdir(int argc, char **argv)
{
        (void)argc;
        if (mkdir(argv[2], 0755) < 0)
                die(argv[2]);
        return 0;
}

static int cmd_mountinfo(int argc, char **argv)
{
        (void)argc, (void)argv;
        dump_file("/proc/self/mountinfo");
        return 0;
}

/* Undo the octal escapes (\040 etc.) the kernel uses in mountinfo. */
static void unescape(char *s)
{
        char *out = s;

        while (*s) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
                    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
                        *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
                                        (s[3] - '0'));
                        s += 4;
                } else {
                        *out++ = *s++;
                }
        }
        *out = '\0';
}

static int cmd_ismount(int argc, char **argv)
{
        char path[PATH_MAX], line[8192];
        char *mnt;
        int found = 0, i;
        FILE *f;

        (void)argc;
        if (!realpath(argv[2], path))
                die(argv[2]);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                die("/proc/self/mountinfo");
        /* Fields: id parent major:minor root mountpoint ... */
        while (!found && fgets(line, sizeof(line), f)) {
                mnt = strtok(line, " ");
                for (i = 0; mnt && i < 4; i++)
                        mnt = strtok(NULL, " ");
                if (!mnt)
                        continue;
                unescape(mnt);
                found = strcmp(mnt, path) == 0;
        }
        fclose(f);
        return found ? 0 : 1;
}

static int cmd_ns(int argc, char **argv)
{
        char path[PATH_MAX], target[PATH_MAX];
        ssize_t n;

        (void)argc;
        snprintf(path, sizeof(path), "/proc/self/ns/%s", argv[2]);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                die(path);
        target[n] = '\0';
        puts(target);
        return 0;
}

static int cmd_readlink(int argc, char **argv)
{
        char target[PATH_MAX];
        ssize_t n;

        (void)argc;
        n = readlink(argv[2], target, sizeof(target) - 1);
        if (n < 0)
                die(argv[2]);
        target[n] = '\0';
        puts(target);
        return 0;
}

static int cmd_sysctl(int argc, char **argv)
{
        char path[PATH_MAX], *p;

        (void)argc;
        snprintf(path, sizeof(path), "/proc/sys/%s", argv[2]);
        for (p = path + strlen("/proc/sys/"); *p; p++)
                if (*p == '.')
                        *p = '/';
        dump_file(path);
        return 0;
}

static int cmd_simple(int argc, char **argv)
{
        const char *c = argv[1];

        (void)argc;
        if (strcmp(c, "true") == 0)
                return 0;
        if (strcmp(c, "false") == 0)
                return 1;
        if (strcmp(c, "pid") == 0)
                printf("%d\n", (int)getpid());
        else if (strcmp(c, "ppid") == 0)
                printf("%d\n", (int)getppid());
        else if (strcmp(c, "oom") == 0)
                dump_file("/proc/self/oom_score_adj");
        else if (strcmp(c, "setuid-check") == 0)
                printf("%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        return 0;
}

static int cmd_exit(int argc, char **argv)
{
        (void)argc;
        return (int)parse_long(argv[2]);
}

static int cmd_echo(int argc, char **argv)
{
        int i;

        for (i = 2; i < argc; i++)
                printf("%s%s", i > 2 ? " " : "", argv[i]);
        putchar('\n');
        return 0;
}

static int cmd_sleep(int argc, char **argv)
{
        struct timespec ts;
        char *end;
        double secs;

        (void)argc;
        secs = strtod(argv[2], &end);
        if (end == argv[2] || *end != '\0' || secs < 0)
                fail("invalid duration");
        ts.tv_sec = (time_t)secs;
        ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        return 0;
}

static void __attribute__((noreturn)) wait_forever(void)
{
        fflush(stdout);
        for (;;)
                pause();
}

static int cmd_pause(int argc, char **argv)
{
        (void)argc, (void)argv;
        wait_forever();
}

static void on_signal(int sig)
{
        const char *msg = "got SIGUNKNOWN\n";

        if (sig == SIGTERM)
                msg = "got SIGTERM\n";
        else if (sig == SIGUSR1)
                msg = "got SIGUSR1\n";
        else if (sig == SIGHUP)
                msg = "got SIGHUP\n";
        if (write(STDOUT_FILENO, msg, strlen(msg)) < 0)
                _exit(1);
        _exit(0);
}

static int cmd_trap(int argc, char **argv)
{
        static const int sigs[] = { SIGTERM, SIGUSR1, SIGHUP };
        struct sigaction sa;
        size_t i;

        (void)argc, (void)argv;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                if (sigaction(sigs[i], &sa, NULL) < 0)
                        die("sigaction");
        /* Lets a test know it is now safe to send the signal. */
        fputs("trap: ready\n", stderr);
        wait_forever();
}

static int cmd_memhog(int argc, char **argv)
{
        const size_t mib = 1024 * 1024;
        long i, total;
        char *p;

        (void)argc;
        total = parse_long(argv[2]);
        for (i = 1; i <= total; i++) {
                p = mmap(NULL, mib, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        die("mmap");
                memset(p, 0xa5, mib);
                if (i % 8 == 0 || i == total) {
                        printf("allocated %ld MiB\n", i);
                        fflush(stdout);
                }
        }
        wait_forever();
}

static int cmd_forkbomb(int argc, char **argv)
{
        long i, n, ok = 0;
        int first_err = 0;
        pid_t *pids;

        (void)argc;
        n = parse_long(argv[2]);
        if (n < 0)
                fail("count must be >= 0");
        pids = calloc(n ? n : 1, sizeof(*pids));
        if (!pids)
                die("calloc");
        fflush(stdout);
        for (i = 0; i < n; i++) {
                pid_t pid = fork();

                if (pid < 0) {
                        first_err = errno;
                        break;
                }
                if (pid == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                        for (;;)
                                pause();
                }
                pids[ok++] = pid;
        }
        printf("forks=%ld\n", ok);
        printf("errno=%s\n", first_err ? strerrorname_np(first_err) : "0");
        fflush(stdout);
        sleep(1);
        for (i = 0; i < ok; i++)
                kill(pids[i], SIGKILL);
        for (i = 0; i < ok; i++)
                waitpid(pids[i], NULL, 0);
        free(pids);
        return 0;
}

static int cmd_tty(int argc, char **argv)
{
        const char *name;

        (void)argc, (void)argv;
        if (!isatty(STDIN_FILENO))
                fail("stdin is not a tty");
        name = ttyname(STDIN_FILENO);
        puts(name ? name : "?");
        return 0;
}

static const struct command {
        const char *name;
        int (*fn)(int argc, char **argv);
        int min_args;           /* arguments after the subcommand name */
        int max_args;           /* -1: unbounded */
        const char *args;
} commands[] = {
        { "true", cmd_simple, 0, 0, "" },
        { "false", cmd_simple, 0, 0, "" },
        { "exit", cmd_exit, 1, 1, "N" },
        { "echo", cmd_echo, 0, -1, "[ARGS...]" },
        { "status", cmd_status, 0, 0, "" },
        { "caps", cmd_caps, 0, 0, "" },
        { "id", cmd_id, 0, 0, "" },
        { "cwd", cmd_cwd, 0, 0, "" },
        { "env", cmd_env, 0, 1, "[NAME]" },
        { "fds", cmd_fds, 0, 0, "" },
        { "limits", cmd_limits, 0, 0, "" },
        { "rlimit", cmd_rlimit, 1, 1, "NAME" },
        { "umask", cmd_umask, 0, 0, "" },
        { "hostname", cmd_uname, 0, 0, "" },
        { "domainname", cmd_uname, 0, 0, "" },
        { "cat", cmd_cat, 1, -1, "FILE..." },
        { "ls", cmd_ls, 1, 1, "DIR" },
        { "stat", cmd_stat, 1, 1, "PATH" },
        { "write", cmd_write, 2, 2, "FILE CONTENT" },
        { "mkdir", cmd_mkdir, 1, 1, "PATH" },
        { "mountinfo", cmd_mountinfo, 0, 0, "" },
        { "ismount", cmd_ismount, 1, 1, "PATH" },
        { "oom", cmd_simple, 0, 0, "" },
        { "pid", cmd_simple, 0, 0, "" },
        { "ppid", cmd_simple, 0, 0, "" },
        { "ns", cmd_ns, 1, 1, "NAME" },
        { "sleep", cmd_sleep, 1, 1, "SECONDS" },
        { "pause", cmd_pause, 0, 0, "" },
        { "trap", cmd_trap, 0, 0, "" },
        { "memhog", cmd_memhog, 1, 1, "MB" },
        { "forkbomb", cmd_forkbomb, 1, 1, "N" },
        { "tty", cmd_tty, 0, 0, "" },
        { "setuid-check", cmd_simple, 0, 0, "" },
        { "sysctl", cmd_sysctl, 1, 1, "NAME" },
        { "readlink", cmd_readlink, 1, 1, "PATH" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(void)
{
        size_t i;

        fputs("usage: init SUBCOMMAND [ARGS...]\nsubcommands:\n", stderr);
        for (i = 0; i < N_COMMANDS; i++)
                fprintf(stderr, "  %s %s\n", commands[i].name, commands[i].args);
        exit(2);
}

int main(int argc, char **argv)
{
        const struct command *c = NULL;
        int nargs;
        size_t i;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2)
                usage();
        for (i = 0; i < N_COMMANDS; i++) {
                if (strcmp(argv[1], commands[i].name) == 0) {
                        c = &commands[i];
                        break;
                }
        }
        if (!c) {
                fprintf(stderr, "init: unknown subcommand '%s'\n", argv[1]);
                usage();
        }
        cur_cmd = c->name;
        nargs = argc - 2;
        if (nargs < c->min_args || (c->max_args >= 0 && nargs > c->max_args)) {
                fprintf(stderr, "usage: init %s %s\n", c->name, c->args);
                return 2;
        }
        return c->fn(argc, argv);
}
