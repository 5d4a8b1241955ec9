/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A minimal TAP producer for unit tests.  Each TEST(name) registers a function; main() runs them all
 * and prints "ok N - name" or "not ok N - name" with the failing assertion as a diagnostic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*tap_fn)(int *failed);
struct tap_test {
        const char *name;
        tap_fn fn;
};

#define TAP_MAX 256
static struct tap_test tap_tests[TAP_MAX];
static int tap_n;

#define TEST(name)                                                                                             \
        static void test_##name(int *tap_failed);                                                              \
        __attribute__((constructor)) static void tap_register_##name(void)                                     \
        {                                                                                                      \
                if (tap_n < TAP_MAX)                                                                           \
                        tap_tests[tap_n++] = (struct tap_test){ #name, test_##name };                          \
        }                                                                                                      \
        static void test_##name(int *tap_failed)

#define TAP_FAIL(...)                                                                                          \
        do {                                                                                                   \
                printf("# %s:%d: ", __FILE__, __LINE__);                                                       \
                printf(__VA_ARGS__);                                                                           \
                printf("\n");                                                                                  \
                *tap_failed = 1;                                                                               \
                return;                                                                                        \
        } while (0)

/* Skips the running test: "ok N - name # SKIP reason".  Only where the machine lacks a feature. */
static char tap_skip_reason[256];
#define TAP_SKIP(...)                                                                                          \
        do {                                                                                                   \
                snprintf(tap_skip_reason, sizeof(tap_skip_reason), __VA_ARGS__);                               \
                *tap_failed = 2;                                                                               \
                return;                                                                                        \
        } while (0)

#define ASSERT_TRUE(x)                                                                                         \
        do {                                                                                                   \
                if (!(x))                                                                                      \
                        TAP_FAIL("assertion failed: %s", #x);                                                  \
        } while (0)
#define ASSERT_EQ(a, b)                                                                                        \
        do {                                                                                                   \
                long long _a = (long long)(a), _b = (long long)(b);                                            \
                if (_a != _b)                                                                                  \
                        TAP_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);                                    \
        } while (0)
#define ASSERT_OK(x)    ASSERT_EQ((x) < 0 ? (x) : 0, 0)
#define ASSERT_STREQ(a, b)                                                                                     \
        do {                                                                                                   \
                const char *_a = (a), *_b = (b);                                                               \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                                         \
                        TAP_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
        } while (0)
#define ASSERT_CONTAINS(hay, needle)                                                                           \
        do {                                                                                                   \
                const char *_h = (hay), *_n = (needle);                                                        \
                if (!_h || !strstr(_h, _n))                                                                    \
                        TAP_FAIL("\"%s\" does not contain \"%s\"", _h ? _h : "(null)", _n);                    \
        } while (0)

int main(void)
{
        int failures = 0;

        printf("1..%d\n", tap_n);
        for (int i = 0; i < tap_n; i++) {
                int failed = 0;
                tap_tests[i].fn(&failed);
                if (failed == 2) {
                        printf("ok %d - %s # SKIP %s\n", i + 1, tap_tests[i].name, tap_skip_reason);
                        continue;
                }
                printf("%s %d - %s\n", failed ? "not ok" : "ok", i + 1, tap_tests[i].name);
                failures += failed;
        }
        return failures ? 1 : 0;
}
