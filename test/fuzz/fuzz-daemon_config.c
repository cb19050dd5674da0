/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target for reading, merging and writing back daemon.json.
 *
 * Every input is handed to daemon_config_load() as a file (a memfd, reached
 * through /proc/self/fd). A refused input must come with a sane error; an
 * accepted one must survive the whole round the tool puts a real
 * daemon.json through: read data-root, merge a new one, render, and read the
 * result back as the same document. Anything else aborts, so libFuzzer and
 * the sanitizers report it.
 *
 * Built with -fsanitize=fuzzer this is a libFuzzer target (test/fuzz/run.sh).
 * Built with -DFUZZ_STANDALONE it is a plain program that runs every file
 * (or every file in every directory) named on its command line, which is how
 * the unit tests replay the corpus. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "daemon_config.h"
#include "util.h"

#define NEW_DATA_ROOT "/srv/x"
/* Larger than DAEMON_CONFIG_MAX_SIZE, so that the replay driver can feed an
 * oversized file and see it refused. */
#define REPLAY_MAX_SIZE (16u * 1024u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                                           \
        do {                                                                                  \
                if (!(expr)) {                                                                \
                        fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, \
                                #expr);                                                       \
                        abort();                                                              \
                }                                                                             \
        } while (0)

/* Something that never is a valid DaemonConfig: a failed load must leave
 * the caller's pointer alone. */
static DaemonConfig untouched_marker;

/* Set by the replay driver: say what became of each input. */
static bool report_outcome;

static int load_bytes(const void *data, size_t size, DaemonConfig **ret, DaemonConfigError *err) {
        _cleanup_close_ int fd = memfd_create("daemon.json", MFD_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "memfd_create: %m\n");
                abort();
        }
        CHECK(write_all(fd, data, size) >= 0);

        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int r = daemon_config_load(path, ret, err);
        if (r >= 0)
                CHECK(streq((*ret)->path, path));
        return r;
}

static char *render_checked(const DaemonConfig *c) {
        char *text = NULL;
        CHECK(daemon_config_render(c, &text) >= 0);
        CHECK(text);

        /* Two-space indentation and a final newline: a raw tab or CR would
         * mean cJSON's formatting leaked through. */
        size_t n = strlen(text);
        CHECK(n >= 3);
        CHECK(text[0] == '{');
        CHECK(text[n - 1] == '\n');
        CHECK(!strchr(text, '\t'));
        CHECK(!strchr(text, '\r'));
        return text;
}

/* Renders c, loads the text again and returns that second document. */
static DaemonConfig *reload_rendered(const DaemonConfig *c, char **ret_text) {
        _cleanup_free_ char *text = render_checked(c);
        DaemonConfig *again = NULL;
        DaemonConfigError err = {};

        int r = load_bytes(text, strlen(text), &again, &err);
        if (r < 0) {
                fprintf(stderr, "rendered text refused (%d at %u:%u: %s):\n%s", r, err.line, err.column,
                        err.message, text);
                abort();
        }
        *ret_text = TAKE_PTR(text);
        return again;
}

/* Deep equality that also holds key order and the literal text of numbers
 * (cJSON_Compare() ignores the first and finds 1e400 unequal to itself). */
static bool same_item(const cJSON *a, const cJSON *b) {
        if ((a->type & 0xff) != (b->type & 0xff))
                return false;
        if (!a->string != !b->string || (a->string && !streq(a->string, b->string)))
                return false;

        if (cJSON_IsString(a))
                return a->valuestring && b->valuestring && streq(a->valuestring, b->valuestring);
        if (cJSON_IsNumber(a))
                return a->valuestring && b->valuestring && streq(a->valuestring, b->valuestring) &&
                       a->valuedouble == b->valuedouble;
        if (!cJSON_IsObject(a) && !cJSON_IsArray(a))
                return true;

        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
                if (!same_item(x, y))
                        return false;
        return !x && !y;
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const cJSON *find_key(const cJSON *object, const char *key) {
        for (const cJSON *child = object->child; child; child = child->next)
                if (child->string && streq(child->string, key))
                        return child;
        return NULL;
}

/* What set_data_root(NEW_DATA_ROOT) must make of before, built here
 * independently of daemon_config.c: "data-root" takes the place of the old
 * one, else of "graph", else goes last; "graph" is gone. */
static cJSON *expected_after_merge(const cJSON *before) {
        const cJSON *slot = find_key(before, "data-root");
        if (!slot)
                slot = find_key(before, "graph");

        cJSON *expected = cJSON_CreateObject();
        CHECK(expected);
        for (const cJSON *child = before->child; child; child = child->next) {
                if (child == slot) {
                        CHECK(cJSON_AddStringToObject(expected, "data-root", NEW_DATA_ROOT));
                        continue;
                }
                if (streq(child->string, "graph"))
                        continue;

                cJSON *copy = cJSON_Duplicate(child, true);
                CHECK(copy);
                CHECK(cJSON_AddItemToObject(expected, child->string, copy));
        }
        if (!slot)
                CHECK(cJSON_AddStringToObject(expected, "data-root", NEW_DATA_ROOT));
        return expected;
}

static void check_get_data_root(const DaemonConfig *c) {
        const cJSON *item = find_key(c->root, "data-root");
        if (!item)
                item = find_key(c->root, "graph");

        const char *data_root = "unset";
        int r = daemon_config_get_data_root(c, &data_root);
        if (!item) {
                CHECK(r == 0);
                CHECK(!data_root);
        } else if (cJSON_IsString(item)) {
                CHECK(r == 1);
                CHECK(data_root == item->valuestring);
        } else
                CHECK(r == -EBADMSG);
}

static bool only_whitespace(const uint8_t *data, size_t size) {
        for (size_t i = 0; i < size; i++)
                if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
                        return false;
        return true;
}

static void check_accepted(DaemonConfig *c, const uint8_t *data, size_t size) {
        /* The backup is written from these bytes: they must be the input's. */
        CHECK(c->existed);
        CHECK(c->original_size == size);
        CHECK(c->original);
        CHECK(memcmp(c->original, data, size) == 0);
        CHECK(cJSON_IsObject(c->root));
        CHECK(!c->root->string);
        if (only_whitespace(data, size))
                CHECK(!c->root->child);

        check_get_data_root(c);

        /* Untouched, the document survives render and load unchanged. */
        _cleanup_free_ char *text = NULL, *text_again = NULL;
        _cleanup_(daemon_config_freep) DaemonConfig *again = reload_rendered(c, &text);
        CHECK(same_item(again->root, c->root));
        text_again = render_checked(again);
        CHECK(streq(text, text_again));

        /* A refused data-root leaves the tree as it was. */
        _cleanup_(cJSON_Deletep) cJSON *before = cJSON_Duplicate(c->root, true);
        CHECK(before);
        CHECK(daemon_config_set_data_root(c, "srv/relative") == -EINVAL);
        CHECK(daemon_config_set_data_root(c, "") == -EINVAL);
        CHECK(same_item(c->root, before));

        /* The merge: only data-root and graph change. */
        CHECK(daemon_config_set_data_root(c, NEW_DATA_ROOT) == 0);
        _cleanup_(cJSON_Deletep) cJSON *expected = expected_after_merge(before);
        CHECK(same_item(c->root, expected));
        const char *data_root = NULL;
        CHECK(daemon_config_get_data_root(c, &data_root) == 1);
        CHECK(streq(data_root, NEW_DATA_ROOT));

        /* What gets written reads back as the same document, and rendering
         * it again gives the very same text. */
        _cleanup_free_ char *merged = NULL, *merged_again = NULL, *merged_twice = NULL;
        _cleanup_(daemon_config_freep) DaemonConfig *written = reload_rendered(c, &merged);
        CHECK(same_item(written->root, c->root));
        merged_again = render_checked(written);
        CHECK(streq(merged, merged_again));

        /* Merging the same data-root twice changes nothing (a rerun after
         * an interrupted migration does exactly that). */
        CHECK(daemon_config_set_data_root(written, NEW_DATA_ROOT) == 0);
        merged_twice = render_checked(written);
        CHECK(streq(merged, merged_twice));
}

static void check_refused(const DaemonConfigError *err, const uint8_t *data, size_t size) {
        CHECK(memchr(err->message, 0, sizeof(err->message)));
        CHECK(err->message[0] != 0);
        /* These messages mean the pre-checker accepted text that cJSON then
         * refused or read differently: the two disagree, which the checker
         * exists to rule out. (Other messages may quote a key, so only the
         * start is telling.) */
        CHECK(!startswith(err->message, "the JSON parser (cJSON)"));

        if (err->line == 0) {
                CHECK(err->column == 0);
                return;
        }

        /* The position lies inside the text, or just past its end. */
        unsigned line = 1;
        size_t line_start = 0;
        for (size_t i = 0; i < size && line < err->line; i++)
                if (data[i] == '\n') {
                        line++;
                        line_start = i + 1;
                }
        CHECK(line == err->line);

        unsigned characters = 0;
        for (size_t i = line_start; i < size && data[i] != '\n'; i++)
                if ((data[i] & 0xc0) != 0x80)
                        characters++;
        CHECK(err->column >= 1);
        CHECK(err->column <= characters + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DaemonConfig *c = &untouched_marker;
        DaemonConfigError err;

        memset(&err, 0x5a, sizeof(err));
        int r = load_bytes(data, size, &c, &err);
        if (r >= 0) {
                CHECK(r == 0);
                CHECK(c && c != &untouched_marker);
                check_accepted(c, data, size);
                daemon_config_free(c);
                if (report_outcome)
                        fprintf(stderr, "    accepted\n");
                return 0;
        }

        CHECK(c == &untouched_marker);
        if (size > DAEMON_CONFIG_MAX_SIZE) {
                CHECK(r == -EFBIG);
                if (report_outcome)
                        fprintf(stderr, "    refused: too large\n");
                return 0;
        }
        if (r != -EBADMSG) {
                fprintf(stderr, "unexpected error from daemon_config_load: %s\n", strerror(-r));
                abort();
        }
        check_refused(&err, data, size);
        if (report_outcome)
                fprintf(stderr, "    refused at %u:%u: %s\n", err.line, err.column, err.message);
        return 0;
}

#ifdef FUZZ_STANDALONE
static unsigned n_inputs;

static void replay_file(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;

        int r = read_full_file(path, REPLAY_MAX_SIZE, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                exit(EXIT_FAILURE);
        }
        fprintf(stderr, "%s (%zu bytes)\n", path, size);
        (void) LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        n_inputs++;
}

static int skip_hidden(const struct dirent *de) {
        return de->d_name[0] != '.';
}

static void replay_directory(const char *dir) {
        struct dirent **entries = NULL;
        int n = scandir(dir, &entries, skip_hidden, alphasort);
        if (n < 0) {
                fprintf(stderr, "%s: %m\n", dir);
                exit(EXIT_FAILURE);
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = strdup_printf("%s/%s", dir, entries[i]->d_name);
                CHECK(path);
                free(entries[i]);

                struct stat st;
                if (stat(path, &st) >= 0 && S_ISREG(st.st_mode))
                        replay_file(path);
        }
        free(entries);
}

int main(int argc, char *argv[]) {
        report_outcome = true;
        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIRECTORY...\n", argv[0]);
                return EXIT_FAILURE;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                if (S_ISDIR(st.st_mode))
                        replay_directory(argv[i]);
                else
                        replay_file(argv[i]);
        }
        if (n_inputs == 0) {
                fprintf(stderr, "no input files found\n");
                return EXIT_FAILURE;
        }
        printf("%u inputs replayed, all invariants held\n", n_inputs);
        return EXIT_SUCCESS;
}
#endif
