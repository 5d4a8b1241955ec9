/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <strings.h>

#include "signals.h"
#include "util.h"

static const struct {
        const char *name;
        int sig;
} signal_table[] = {
        { "HUP", SIGHUP },   { "INT", SIGINT },       { "QUIT", SIGQUIT },     { "ILL", SIGILL },
        { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },     { "IOT", SIGIOT },       { "BUS", SIGBUS },
        { "FPE", SIGFPE },   { "KILL", SIGKILL },     { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
        { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },     { "TERM", SIGTERM },
        { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CLD", SIGCHLD },      { "CONT", SIGCONT },
        { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },
        { "URG", SIGURG },   { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },     { "VTALRM", SIGVTALRM },
        { "PROF", SIGPROF }, { "WINCH", SIGWINCH },   { "IO", SIGIO },         { "POLL", SIGPOLL },
        { "PWR", SIGPWR },   { "SYS", SIGSYS },
};

int signal_from_string(const char *s)
{
        uint64_t n;

        if (parse_uint64(s, &n) == 0)
                return (n >= 1 && n <= (uint64_t)SIGRTMAX) ? (int)n : -EINVAL;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (strcasecmp(s, signal_table[i].name) == 0)
                        return signal_table[i].sig;
        if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
                int64_t off = 0;
                bool min = strncasecmp(s, "RTMIN", 5) == 0;
                if (s[5] && (parse_int64(s + 5, &off) < 0 || (min ? off < 0 : off > 0)))
                        return -EINVAL;
                int sig = (min ? SIGRTMIN : SIGRTMAX) + (int)off;
                return (sig >= SIGRTMIN && sig <= SIGRTMAX) ? sig : -EINVAL;
        }
        return -EINVAL;
}
