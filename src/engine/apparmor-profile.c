/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The default AppArmor profile and loading profiles with apparmor_parser (docs/SECCOMP.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apparmor-profile.h"
#include "apparmor.h"
#include "cleanup.h"
#include "util.h"

/*
 * The template.  Its rules are docker-default's (the same confinement, so images that run under
 * Docker run here), grouped by what they protect.  Placeholders, replaced by render():
 *   @head@    the abi line and the global tunables (or a definition of @{PROC} without them)
 *   @base@    the base abstraction, where this machine has it
 *   @peer@    a rule accepting signals from the engine's own label, when the engine is confined
 *   @name@    the profile's name
 * Needs a parser of AppArmor 2.9 or later (signal and ptrace rules); Debian 12 has 3.0.
 */
static const char profile_template[] =
        "# @name@: the profile stockade confines containers with unless told otherwise\n"
        "# (`stockade apparmor default` prints it; the engine loads it on first use).\n"
        "@head@"
        "\n"
        "profile @name@ flags=(attach_disconnected,mediate_deleted) {\n"
        "@base@"
        "  # Broad grants; capabilities, seccomp and the namespaces narrow them.\n"
        "  file,\n"
        "  network,\n"
        "  capability,\n"
        "  umount,\n"
        "\n"
        "  # No mounts at all, even with CAP_SYS_ADMIN: a remount could make /proc or /sys writable.\n"
        "  deny mount,\n"
        "\n"
        "  # Signals: the container's processes among themselves, and from the host's unconfined\n"
        "  # processes (the runtime's kill, the monitor).  No other peer, either way.\n"
        "  signal (send,receive) peer=@name@,\n"
        "  signal (receive) peer=unconfined,\n"
        "@peer@"
        "\n"
        "  # ptrace only inside the profile (ps and top in the container read their peers); nothing\n"
        "  # allows tracing or reading a process outside it, so that is refused.\n"
        "  ptrace (trace,read,tracedby,readby) peer=@name@,\n"
        "\n"
        "  # procfs.  Nothing directly in /proc is writable, and below it only /proc/<pid>/ and\n"
        "  # /proc/sys/ are (the second pattern: any directory name that is neither a number nor \"sys\").\n"
        "  deny @{PROC}/* w,\n"
        "  deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,\n"
        "  # Of /proc/sys, only /proc/sys/kernel/shm* (the IPC namespace's own limits) stays writable.\n"
        "  # (docker-default's [^s][^h][^m]** lets through every name with s first, h second or m third,\n"
        "  # such as domainname or sched_*: these alternatives leave out exactly the shm prefix.)\n"
        "  deny @{PROC}/sys/[^k]** w,\n"
        "  deny @{PROC}/sys/kernel/{s,sh,[^s]**,s[^h]**,sh[^m]**} w,\n"
        "  # The host's memory and its magic SysRq key: no access at all.\n"
        "  deny @{PROC}/kcore rwklx,\n"
        "  deny @{PROC}/sysrq-trigger rwklx,\n"
        "\n"
        "  # sysfs is read-only apart from /sys/fs/cgroup (its own mount decides there).\n"
        "  deny /sys/[^f]*/** wklx,\n"
        "  deny /sys/f[^s]*/** wklx,\n"
        "  deny /sys/fs/[^c]*/** wklx,\n"
        "  deny /sys/fs/c[^g]*/** wklx,\n"
        "  deny /sys/fs/cg[^r]*/** wklx,\n"
        "  # and these are not even readable: firmware tables, power capping (energy counters leak\n"
        "  # what other tenants compute), the security modules' own files.\n"
        "  deny /sys/firmware/** rwklx,\n"
        "  deny /sys/devices/virtual/powercap/** rwklx,\n"
        "  deny /sys/kernel/security/** rwklx,\n"
        "}\n";

static bool have_file(const char *rel)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", APPARMOR_PROFILE_DIR, rel);
        return access(p, R_OK) == 0;
}

/* The label this process runs under ("unconfined" when there is none, or no AppArmor). */
static char *own_label(void)
{
        static const char *const paths[] = { "/proc/self/attr/apparmor/current", "/proc/self/attr/current" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_free_ char *s = NULL;
                if (read_file_at(AT_FDCWD, paths[i], 4096, &s, NULL) < 0 || !*s)
                        continue;
                s[strcspn(s, "\n")] = '\0';
                /* "NAME (enforce)" or "NAME (complain)"; "unconfined" alone */
                char *sp = strstr(s, " (");
                if (sp)
                        *sp = '\0';
                if (!*s || strpbrk(s, " \t,{}") != NULL)
                        continue;
                return TAKE_PTR(s);
        }
        return xstrdup("unconfined");
}

static void render(char **out, size_t *len, const char *tmpl, const char *const vars[][2], size_t nvars)
{
        FILE *f = open_memstream(out, len);
        if (!f)
                abort();
        for (const char *p = tmpl; *p;) {
                size_t i;
                if (*p == '@') {
                        for (i = 0; i < nvars; i++) {
                                size_t n = strlen(vars[i][0]);
                                if (strncmp(p, vars[i][0], n) == 0) {
                                        fputs(vars[i][1], f);
                                        p += n;
                                        break;
                                }
                        }
                        if (i < nvars)
                                continue;
                }
                fputc(*p++, f);
        }
        if (fclose(f) != 0)
                abort();
}

char *apparmor_default_profile(const char *name)
{
        _cleanup_free_ char *head = NULL, *base = NULL, *peer = NULL, *label = own_label();
        char *out = NULL;
        size_t len = 0;

        /* abi pins the rule semantics the profile was written for; parsers before 3.0 reject the line. */
        head = xasprintf("%s%s", have_file("abi/3.0") ? "abi <abi/3.0>,\n" : "",
                         have_file("tunables/global") ? "#include <tunables/global>\n" : "@{PROC}=/proc/\n");
        base = xstrdup(have_file("abstractions/base") ? "  #include <abstractions/base>\n\n" : "");
        peer = STREQ(label, "unconfined") || STREQ(label, name)
                       ? xstrdup("")
                       : xasprintf("  signal (receive) peer=%s,\n", label);
        const char *const vars[][2] = { { "@head@", head }, { "@base@", base }, { "@peer@", peer }, { "@name@", name } };
        render(&out, &len, profile_template, vars, ELEMENTSOF(vars));
        return out;
}

bool apparmor_profile_loaded(const char *name, bool *ret_known)
{
        _cleanup_free_ char *list = NULL;
        size_t n = strlen(name);

        if (read_file_at(AT_FDCWD, "/sys/kernel/security/apparmor/profiles", 16 << 20, &list, NULL) < 0) {
                if (ret_known)
                        *ret_known = false;
                return false;
        }
        if (ret_known)
                *ret_known = true;
        /* one "NAME (MODE)" a line */
        for (const char *l = list; *l;) {
                const char *nl = strchr(l, '\n');
                if (strncmp(l, name, n) == 0 && l[n] == ' ' && l[n + 1] == '(')
                        return true;
                if (!nl)
                        break;
                l = nl + 1;
        }
        return false;
}

static char *find_parser(void)
{
        const char *env = getenv("STOCKADE_APPARMOR_PARSER");
        const char *path = getenv("PATH");

        if (env && *env)
                return access(env, X_OK) == 0 ? xstrdup(env) : NULL;
        /* PATH first, then the sbin directories a user's PATH often lacks */
        _cleanup_free_ char *dirs = xasprintf("%s:/usr/sbin:/sbin", path && *path ? path : "/usr/bin:/bin");
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = xasprintf("%s/apparmor_parser", d);
                if (*d == '/' && access(p, X_OK) == 0)
                        return TAKE_PTR(p);
        }
        return NULL;
}

int apparmor_parser_load(const char *file, const char *text, const char *what, Error **err)
{
        _cleanup_free_ char *parser = find_parser();
        _cleanup_close_ int in = -1;
        int status = 0;
        char msg[2048];
        size_t mlen = 0;

        if (!parser)
                return error_setx(err, ENOENT, "%s: apparmor_parser not found (in PATH, /usr/sbin or /sbin%s): install "
                                               "the apparmor package", what,
                                  getenv("STOCKADE_APPARMOR_PARSER") ? ", or at STOCKADE_APPARMOR_PARSER" : "");
        if (file)
                in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        else {
                /* a memfd rather than a pipe: the parser may exit without reading, and we must not
                 * get SIGPIPE or block */
                in = memfd_create("stockade-apparmor-profile", MFD_CLOEXEC);
                if (in >= 0) {
                        int r = write_all(in, text, strlen(text));
                        if (r == 0 && lseek(in, 0, SEEK_SET) < 0)
                                r = -errno;
                        if (r < 0)
                                return error_set(err, -r, "%s: writing the profile for apparmor_parser", what);
                }
        }
        if (in < 0)
                return error_set(err, errno, "%s: %s", what, file ? "opening /dev/null" : "memfd_create");
        {
                char *argv_file[] = { (char *)parser, (char *)"-Kr", (char *)"--", (char *)file, NULL };
                char *argv_text[] = { (char *)parser, (char *)"-Kr", NULL };
                int r = spawn_wait_msg(file ? argv_file : argv_text, NULL, in, true, msg, sizeof(msg), &status);
                if (r < 0)
                        return error_set(err, -r, "%s: running %s", what, parser);
                mlen = strlen(msg);
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return error_setx(err, EIO, "%s: %s failed (exit status %d)%s%s", what, parser, WEXITSTATUS(status),
                                  mlen ? ": " : "", msg);
        return error_setx(err, EIO, "%s: %s was killed by signal %d%s%s", what, parser, WTERMSIG(status),
                          mlen ? ": " : "", msg);
}

/* FNV-1a of the rendered default profile: what the stamp records. */
static char *text_hash(const char *text)
{
        uint64_t h = 1469598103934665603ULL;
        for (const char *p = text; *p; p++)
                h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        return xasprintf("%016llx\n", (unsigned long long)h);
}

int apparmor_ensure_loaded(const char *name, const char *field, Error **err)
{
        bool known = false;
        _cleanup_free_ char *what = NULL;

        if (STREQ(name, APPARMOR_DEFAULT_PROFILE)) {
                /*
                 * The kernel cannot tell which text a loaded profile came from: a stamp on /run (gone
                 * at each boot) records the hash of the text this machine loaded, so a stockade whose
                 * template changed replaces the old profile at its first container, not at the next
                 * reboot.  Two engines doing so at once both load the same text, which is harmless.
                 */
                _cleanup_free_ char *text = apparmor_default_profile(name), *hash = text_hash(text), *stamp = NULL;
                bool current = apparmor_profile_loaded(name, &known) &&
                               read_file_at(AT_FDCWD, APPARMOR_DEFAULT_STAMP, 64, &stamp, NULL) == 0 && STREQ(stamp, hash);
                int r;
                if (current)
                        return 0;
                what = xasprintf("%s=%s", field, name);
                r = apparmor_parser_load(NULL, text, what, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *dir = xstrdup(APPARMOR_DEFAULT_STAMP);
                *strrchr(dir, '/') = '\0';
                _cleanup_close_ int dfd = mkdir_p(dir, 0755) < 0 ? -EBADF : open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                if (dfd >= 0)
                        (void)write_file_atomic(dfd, strrchr(APPARMOR_DEFAULT_STAMP, '/') + 1, hash, strlen(hash), 0644, false);
                return 0;
        }
        if (apparmor_profile_loaded(name, &known))
                return 0;
        /* Not loaded (or the list cannot be read): load it.  Two engines doing so at once both
         * replace the profile with the same text, which is harmless. */
        what = xasprintf("%s=%s", field, name);
        /* Only a plain file name can be looked up; anything else (a hat, a path) must be loaded
         * already, which the runtime checks and reports. */
        if (!*name || strchr(name, '/') || name[0] == '.' || strpbrk(name, "\n\r"))
                return 0;
        _cleanup_free_ char *path = xasprintf("%s/%s", APPARMOR_PROFILE_DIR, name);
        struct stat st;
        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return error_setx(err, ENOENT, "%s: no AppArmor profile \"%s\" is loaded and there is no %s to "
                                                       "load it from",
                                          what, name, path);
                return error_set(err, errno, "%s: %s", what, path);
        }
        if (!S_ISREG(st.st_mode))
                return error_setx(err, EINVAL, "%s: %s is not a regular file", what, path);
        return apparmor_parser_load(path, NULL, what, err);
}

int apparmor_container_profile(const char *requested, bool privileged, char **ret_profile, Error **err)
{
        const char *name = requested;
        int r;

        *ret_profile = NULL;
        if (name && (!*name || STREQ(name, "unconfined")))
                return 0;
        if (!name) {
                if (privileged || !apparmor_enabled())
                        return 0;
                name = APPARMOR_DEFAULT_PROFILE;
        }
        /* An explicit name on a kernel without AppArmor is left to the runtime, which refuses it
         * with its reason (runopts.c refuses it at create already). */
        if (apparmor_enabled()) {
                r = apparmor_ensure_loaded(name, "--security-opt apparmor", err);
                if (r < 0)
                        return r;
        }
        *ret_profile = xstrdup(name);
        return 0;
}
