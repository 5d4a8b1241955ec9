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

#define UNUSED __attribute__((unused))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

extern char **environ;

/* Name of the running subcommand, used as the prefix of error messages. */
static const char *cur_cmd = "init";

static void __attribute__((noreturn)) die(const char *what)
{
        fprintf(stderr, "init: %s: %s: %s\n", cur_cmd, what, strerror(errno));
        exit(1);
}

static void __attribute__((noreturn)) fail(const char *msg, const char *arg)
{
        fprintf(stderr, "init: %s: %s%s%s\n", cur_cmd, msg, arg ? ": " : "",
                arg ? arg : "");
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
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        die(path);
                if (fwrite(buf, 1, n, stdout) != (size_t)n)
                        die("write");
        }
        close(fd);
        fflush(stdout);
}

static void print_link(const char *path)
{
        char target[PATH_MAX];
        ssize_t n;

        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                die(path);
        target[n] = '\0';
        puts(target);
}

/*
 * Print the /proc/self/status lines whose key is in keys[], either verbatim
 * or, with as_pairs, as KEY=VALUE.
 */
static void print_status(const char *const *keys, int as_pairs)
{
        char line[4096], *v;
        size_t i, len;
        FILE *f;

        f = fopen("/proc/self/status", "re");
        if (!f)
                die("/proc/self/status");
        while (fgets(line, sizeof(line), f)) {
                for (i = 0; keys[i]; i++) {
                        len = strlen(keys[i]);
                        if (strncmp(line, keys[i], len) != 0 || line[len] != ':')
                                continue;
                        if (!as_pairs) {
                                fputs(line, stdout);
                                break;
                        }
                        v = line + len + 1 + strspn(line + len + 1, " \t");
                        printf("%s=%.*s\n", keys[i], (int)strcspn(v, " \t\n"), v);
                        break;
                }
        }
        fclose(f);
}

static int cmd_status(char **args UNUSED)
{
        static const char *const keys[] = {
                "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff",
                "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
                "Seccomp_filters", NULL
        };

        print_status(keys, 0);
        return 0;
}

static int cmd_caps(char **args UNUSED)
{
        static const char *const keys[] = {
                "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", NULL
        };

        print_status(keys, 1);
        return 0;
}

static int cmd_id(char **args UNUSED)
{
        gid_t groups[NGROUPS_MAX];
        int i, n;

        n = getgroups(NGROUPS_MAX, groups);
        if (n < 0)
                die("getgroups");
        printf("uid=%u gid=%u groups=", (unsigned)getuid(), (unsigned)getgid());
        for (i = 0; i < n; i++)
                printf("%s%u", i ? "," : "", (unsigned)groups[i]);
        putchar('\n');
        return 0;
}

static int cmd_cwd(char **args UNUSED)
{
        char buf[PATH_MAX];

        if (!getcwd(buf, sizeof(buf)))
                die("getcwd");
        puts(buf);
        return 0;
}

static int cmd_env(char **args)
{
        const char *v;
        char **e;

        if (!args[0]) {
                for (e = environ; *e; e++)
                        puts(*e);
                return 0;
        }
        v = getenv(args[0]);
        if (!v)
                fail("variable is not set", args[0]);
        puts(v);
        return 0;
}

static int cmp_int(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;

        return (x > y) - (x < y);
}

static int cmd_fds(char **args UNUSED)
{
        int fds[4096], self;
        size_t i, n = 0;
        struct dirent *de;
        DIR *d;

        d = opendir("/proc/self/fd");
        if (!d)
                die("/proc/self/fd");
        self = dirfd(d);
        while ((de = readdir(d)) && n < ARRAY_SIZE(fds)) {
                if (isdigit((unsigned char)de->d_name[0]) &&
                    atoi(de->d_name) != self)
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
        { "CPU", RLIMIT_CPU },           { "FSIZE", RLIMIT_FSIZE },
        { "DATA", RLIMIT_DATA },         { "STACK", RLIMIT_STACK },
        { "CORE", RLIMIT_CORE },         { "RSS", RLIMIT_RSS },
        { "NPROC", RLIMIT_NPROC },       { "NOFILE", RLIMIT_NOFILE },
        { "MEMLOCK", RLIMIT_MEMLOCK },   { "AS", RLIMIT_AS },
        { "LOCKS", RLIMIT_LOCKS },       { "SIGPENDING", RLIMIT_SIGPENDING },
        { "MSGQUEUE", RLIMIT_MSGQUEUE }, { "NICE", RLIMIT_NICE },
        { "RTPRIO", RLIMIT_RTPRIO },     { "RTTIME", RLIMIT_RTTIME },
};

static void print_rlim(rlim_t v, char sep)
{
        if (v == RLIM_INFINITY)
                printf("unlimited%c", sep);
        else
                printf("%llu%c", (unsigned long long)v, sep);
}

static int cmd_rlimit(char **args)
{
        const char *name = args[0];
        struct rlimit rl;
        size_t i;

        if (strncasecmp(name, "RLIMIT_", 7) == 0)
                name += 7;
        for (i = 0; i < ARRAY_SIZE(rlimits); i++) {
                if (strcasecmp(name, rlimits[i].name) != 0)
                        continue;
                if (getrlimit(rlimits[i].resource, &rl) < 0)
                        die("getrlimit");
                print_rlim(rl.rlim_cur, ' ');
                print_rlim(rl.rlim_max, '\n');
                return 0;
        }
        fprintf(stderr, "init: rlimit: unknown resource '%s'\n", args[0]);
        return 2;
}

static int cmd_umask(char **args UNUSED)
{
        mode_t m = umask(0);

        umask(m);
        printf("%04o\n", (unsigned)m);
        return 0;
}

static int cmd_uname(char **args UNUSED)
{
        struct utsname u;

        if (uname(&u) < 0)
                die("uname");
        puts(strcmp(cur_cmd, "hostname") == 0 ? u.nodename : u.domainname);
        return 0;
}

static int cmd_cat(char **args)
{
        for (; *args; args++)
                dump_file(*args);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_ls(char **args)
{
        char **names = NULL;
        size_t i, n = 0, cap = 0;
        struct dirent *de;
        DIR *d;

        d = opendir(args[0]);
        if (!d)
                die(args[0]);
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

static int cmd_stat(char **args)
{
        const char *type = "unknown";
        struct stat st;

        if (lstat(args[0], &st) < 0)
                die(args[0]);
        switch (st.st_mode & S_IFMT) {
        case S_IFREG: type = "file"; break;
        case S_IFDIR: type = "dir"; break;
        case S_IFCHR: type = "chr"; break;
        case S_IFBLK: type = "blk"; break;
        case S_IFLNK: type = "link"; break;
        case S_IFIFO: type = "fifo"; break;
        case S_IFSOCK: type = "sock"; break;
        default: break;
        }
        printf("%s %04o %u %u %u %u\n", type, (unsigned)(st.st_mode & 07777),
               (unsigned)st.st_uid, (unsigned)st.st_gid,
               major(st.st_rdev), minor(st.st_rdev));
        return 0;
}

static int cmd_write(char **args)
{
        size_t len = strlen(args[1]);
        int fd;

        fd = open(args[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die(args[0]);
        if (write(fd, args[1], len) != (ssize_t)len)
                die("write");
        if (close(fd) < 0)
                die("close");
        return 0;
}

static int cmd_mkdir(char **args)
{
        if (mkdir(args[0], 0755) < 0)
                die(args[0]);
        return 0;
}

/* Undo the octal escapes (\040 and friends) used in mountinfo paths. */
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

static int cmd_ismount(char **args)
{
        char path[PATH_MAX], line[8192], *mnt;
        int found = 0, i;
        FILE *f;

        if (!realpath(args[0], path))
                die(args[0]);
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

/* Subcommands that print a file or symlink whose path derives from args. */
static int cmd_show(char **args)
{
        char path[PATH_MAX], *p;

        if (strcmp(cur_cmd, "limits") == 0) {
                dump_file("/proc/self/limits");
        } else if (strcmp(cur_cmd, "mountinfo") == 0) {
                dump_file("/proc/self/mountinfo");
        } else if (strcmp(cur_cmd, "oom") == 0) {
                dump_file("/proc/self/oom_score_adj");
        } else if (strcmp(cur_cmd, "readlink") == 0) {
                print_link(args[0]);
        } else if (strcmp(cur_cmd, "ns") == 0) {
                snprintf(path, sizeof(path), "/proc/self/ns/%s", args[0]);
                print_link(path);
        } else if (strcmp(cur_cmd, "sysctl") == 0) {
                snprintf(path, sizeof(path), "/proc/sys/%s", args[0]);
                for (p = path + strlen("/proc/sys/"); *p; p++)
                        if (*p == '.')
                                *p = '/';
                dump_file(path);
        }
        return 0;
}

/* Subcommands that take no arguments and print at most one number. */
static int cmd_simple(char **args UNUSED)
{
        if (strcmp(cur_cmd, "false") == 0)
                return 1;
        if (strcmp(cur_cmd, "pid") == 0)
                printf("%d\n", (int)getpid());
        else if (strcmp(cur_cmd, "ppid") == 0)
                printf("%d\n", (int)getppid());
        else if (strcmp(cur_cmd, "setuid-check") == 0)
                printf("%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        return 0;
}

static int cmd_exit(char **args)
{
        return (int)parse_long(args[0]);
}

static int cmd_echo(char **args)
{
        int i;

        for (i = 0; args[i]; i++)
                printf("%s%s", i ? " " : "", args[i]);
        putchar('\n');
        return 0;
}

static int cmd_sleep(char **args)
{
        struct timespec ts;
        char *end;
        double secs;

        secs = strtod(args[0], &end);
        if (end == args[0] || *end != '\0' || secs < 0)
                fail("invalid duration", args[0]);
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

static int cmd_pause(char **args UNUSED)
{
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

static int cmd_trap(char **args UNUSED)
{
        static const int sigs[] = { SIGTERM, SIGUSR1, SIGHUP };
        struct sigaction sa;
        size_t i;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (i = 0; i < ARRAY_SIZE(sigs); i++)
                if (sigaction(sigs[i], &sa, NULL) < 0)
                        die("sigaction");
        /* Tells a test that the signal can now be sent safely. */
        fputs("trap: ready\n", stderr);
        wait_forever();
}

static int cmd_memhog(char **args)
{
        const size_t mib = 1024 * 1024;
        long i, total;
        char *p;

        total = parse_long(args[0]);
        for (i = 1; i <= total; i++) {
                p = mmap(NULL, mib, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        die("mmap");
                memset(p, 0xa5, mib);   /* non-zero: really back the pages */
                if (i % 8 == 0 || i == total)
                        printf("allocated %ld MiB\n", i);
        }
        wait_forever();
}

static int cmd_forkbomb(char **args)
{
        long i, n, ok = 0;
        int first_err = 0;
        pid_t pid, *pids;

        n = parse_long(args[0]);
        if (n < 0)
                fail("count must be >= 0", args[0]);
        pids = calloc(n ? n : 1, sizeof(*pids));
        if (!pids)
                die("calloc");
        fflush(stdout);
        for (i = 0; i < n; i++) {
                pid = fork();
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

static int cmd_tty(char **args UNUSED)
{
        const char *name;

        if (!isatty(STDIN_FILENO))
                fail("stdin is not a tty", NULL);
        /* ttyname() needs the device node; fall back to the fd link. */
        name = ttyname(STDIN_FILENO);
        if (name)
                puts(name);
        else
                print_link("/proc/self/fd/0");
        return 0;
}

/* syscall NR [ARG...]: one raw syscall (numbers, 0x hex, or -N); prints "ok" or the errno's name and text. */
static int cmd_syscall(char **args)
{
        static const struct { int e; const char *name; } names[] = {
                { EPERM, "EPERM" }, { ENOSYS, "ENOSYS" }, { EINVAL, "EINVAL" }, { EFAULT, "EFAULT" },
                { EBADF, "EBADF" }, { ENOENT, "ENOENT" }, { EACCES, "EACCES" }, { ENOKEY, "ENOKEY" },
        };
        unsigned long a[5] = { 0, 0, 0, 0, 0 };
        long nr = parse_long(args[0]), r;
        int i;

        for (i = 0; i < 5 && args[i + 1]; i++)
                a[i] = strtoul(args[i + 1], NULL, 0);
        r = syscall(nr, a[0], a[1], a[2], a[3], a[4]);
        if (r >= 0) {
                printf("syscall %ld: ok\n", nr);
                return 0;
        }
        for (i = 0; i < (int)ARRAY_SIZE(names); i++)
                if (names[i].e == errno) {
                        printf("syscall %ld: %s (%s)\n", nr, names[i].name, strerror(errno));
                        return 1;
                }
        printf("syscall %ld: errno %d (%s)\n", nr, errno, strerror(errno));
        return 1;
}

static const struct command {
        const char *name;
        int (*fn)(char **args);
        int min_args;           /* arguments after the subcommand name */
        int max_args;           /* -1: unbounded */
        const char *usage;
} commands[] = {
        { "true", cmd_simple, 0, 0, "" },
        { "false", cmd_simple, 0, 0, "" },
        { "exit", cmd_exit, 1, 1, " N" },
        { "echo", cmd_echo, 0, -1, " [ARGS...]" },
        { "status", cmd_status, 0, 0, "" },
        { "caps", cmd_caps, 0, 0, "" },
        { "id", cmd_id, 0, 0, "" },
        { "cwd", cmd_cwd, 0, 0, "" },
        { "env", cmd_env, 0, 1, " [NAME]" },
        { "fds", cmd_fds, 0, 0, "" },
        { "limits", cmd_show, 0, 0, "" },
        { "rlimit", cmd_rlimit, 1, 1, " NAME" },
        { "umask", cmd_umask, 0, 0, "" },
        { "hostname", cmd_uname, 0, 0, "" },
        { "domainname", cmd_uname, 0, 0, "" },
        { "cat", cmd_cat, 1, -1, " FILE..." },
        { "ls", cmd_ls, 1, 1, " DIR" },
        { "stat", cmd_stat, 1, 1, " PATH" },
        { "write", cmd_write, 2, 2, " FILE CONTENT" },
        { "mkdir", cmd_mkdir, 1, 1, " PATH" },
        { "mountinfo", cmd_show, 0, 0, "" },
        { "ismount", cmd_ismount, 1, 1, " PATH" },
        { "oom", cmd_show, 0, 0, "" },
        { "pid", cmd_simple, 0, 0, "" },
        { "ppid", cmd_simple, 0, 0, "" },
        { "ns", cmd_show, 1, 1, " NAME" },
        { "sleep", cmd_sleep, 1, 1, " SECONDS" },
        { "pause", cmd_pause, 0, 0, "" },
        { "trap", cmd_trap, 0, 0, "" },
        { "memhog", cmd_memhog, 1, 1, " MB" },
        { "forkbomb", cmd_forkbomb, 1, 1, " N" },
        { "tty", cmd_tty, 0, 0, "" },
        { "setuid-check", cmd_simple, 0, 0, "" },
        { "sysctl", cmd_show, 1, 1, " NAME" },
        { "readlink", cmd_show, 1, 1, " PATH" },
        { "syscall", cmd_syscall, 1, 6, " NR [ARGS...]" },
};

static void __attribute__((noreturn)) usage(void)
{
        size_t i;

        fputs("usage: init SUBCOMMAND [ARGS...]\nsubcommands:\n", stderr);
        for (i = 0; i < ARRAY_SIZE(commands); i++)
                fprintf(stderr, "  %s%s\n", commands[i].name, commands[i].usage);
        exit(2);
}

int main(int argc, char **argv)
{
        const struct command *c = NULL;
        int nargs;
        size_t i;

        /* Line buffering so progress output reaches pipes promptly. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2)
                usage();
        for (i = 0; i < ARRAY_SIZE(commands) && !c; i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        c = &commands[i];
        if (!c) {
                fprintf(stderr, "init: unknown subcommand '%s'\n", argv[1]);
                usage();
        }
        cur_cmd = c->name;
        nargs = argc - 2;
        if (nargs < c->min_args || (c->max_args >= 0 && nargs > c->max_args)) {
                fprintf(stderr, "usage: init %s%s\n", c->name, c->usage);
                return 2;
        }
        return c->fn(argv + 2);
}
