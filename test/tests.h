/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Minimal assertions for the unit tests: a failed one prints where and
 * aborts, which meson reports as a failure. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_TEST_SKIP 77

#define ASSERT_TRUE(expr)                                                             \
        do {                                                                          \
                if (!(expr)) {                                                        \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,    \
                                __LINE__, #expr);                                     \
                        abort();                                                      \
                }                                                                     \
        } while (0)

#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

/* expr returns a negative errno on failure. */
#define ASSERT_OK(expr)                                                               \
        ({                                                                            \
                int _r_ = (expr);                                                     \
                if (_r_ < 0) {                                                        \
                        fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, \
                                #expr, strerror(-_r_));                               \
                        abort();                                                      \
                }                                                                     \
                _r_;                                                                  \
        })

#define ASSERT_EQ(a, b)                                                               \
        do {                                                                          \
                long long _a_ = (long long) (a), _b_ = (long long) (b);               \
                if (_a_ != _b_) {                                                     \
                        fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",     \
                                __FILE__, __LINE__, #a, #b, _a_, _b_);                \
                        abort();                                                      \
                }                                                                     \
        } while (0)

#define ASSERT_STREQ(a, b)                                                            \
        do {                                                                          \
                const char *_a_ = (a), *_b_ = (b);                                    \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0) {                          \
                        fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
                                __FILE__, __LINE__, #a, #b, _a_ ? _a_ : "(null)",     \
                                _b_ ? _b_ : "(null)");                                \
                        abort();                                                      \
                }                                                                     \
        } while (0)

/* A test that needs a facility (root, loop devices, a filesystem type)
 * skips only when it truly is missing, and never under CI, where
 * DDR_TEST_NO_SKIP=1 turns the skip into a failure. */
static inline int test_skip(const char *why) {
        const char *no_skip = getenv("DDR_TEST_NO_SKIP");
        if (no_skip && strcmp(no_skip, "1") == 0) {
                fprintf(stderr, "FAIL (skips are failures here): %s\n", why);
                return EXIT_FAILURE;
        }
        fprintf(stderr, "SKIP: %s\n", why);
        return EXIT_TEST_SKIP;
}
