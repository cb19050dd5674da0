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

/* An independent reading of the JSON grammar (RFC 8259), written apart
 * from daemon_config.c's checker, to judge its verdicts: valid JSON must be
 * accepted unless it hits one of the loader's deliberate refusals, and
 * anything else must be refused. */
typedef enum Grammar {
        GRAMMAR_INVALID,
        GRAMMAR_VALID,
        GRAMMAR_TOO_DEEP, /* no verdict: the loader refuses long before */
} Grammar;

/* Well past the loader's limit of 512, and shallow enough for the stack. */
#define GRAMMAR_MAX_DEPTH 1000

typedef struct Reader {
        const uint8_t *text;
        size_t size;
        size_t pos;
        unsigned depth;
        bool too_deep;
} Reader;

static int reader_peek(const Reader *r) {
        return r->pos < r->size ? r->text[r->pos] : -1;
}

static void reader_skip_space(Reader *r) {
        for (;;) {
                int c = reader_peek(r);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                        return;
                r->pos++;
        }
}

static bool reader_take(Reader *r, int c) {
        if (reader_peek(r) != c)
                return false;
        r->pos++;
        return true;
}

static bool is_hex(int c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool read_digits(Reader *r) {
        size_t start = r->pos;
        while (reader_peek(r) >= '0' && reader_peek(r) <= '9')
                r->pos++;
        return r->pos > start;
}

static bool read_string(Reader *r) {
        if (!reader_take(r, '"'))
                return false;
        for (;;) {
                int c = reader_peek(r);
                if (c < 0x20) /* also the end of the text */
                        return false;
                r->pos++;
                if (c == '"')
                        return true;
                if (c != '\\')
                        continue;

                c = reader_peek(r);
                r->pos++;
                if (c == 'u') {
                        for (int i = 0; i < 4; i++, r->pos++)
                                if (!is_hex(reader_peek(r)))
                                        return false;
                } else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                             c == 'r' || c == 't'))
                        return false;
        }
}

static bool read_number(Reader *r) {
        (void) reader_take(r, '-');
        if (!reader_take(r, '0') && !read_digits(r))
                return false;
        if (reader_take(r, '.') && !read_digits(r))
                return false;
        if (reader_take(r, 'e') || reader_take(r, 'E')) {
                if (!reader_take(r, '+'))
                        (void) reader_take(r, '-');
                if (!read_digits(r))
                        return false;
        }
        return true;
}

static bool read_word(Reader *r, const char *word) {
        size_t n = strlen(word);
        if (r->size - r->pos < n || memcmp(r->text + r->pos, word, n) != 0)
                return false;
        r->pos += n;
        return true;
}

static bool read_value(Reader *r);

/* Members of an object or elements of an array, after the opening bracket. */
static bool read_members(Reader *r, bool object) {
        int close = object ? '}' : ']';

        if (++r->depth > GRAMMAR_MAX_DEPTH) {
                r->too_deep = true;
                return false;
        }
        reader_skip_space(r);
        if (!reader_take(r, close)) {
                for (;;) {
                        if (object) {
                                reader_skip_space(r);
                                if (!read_string(r))
                                        return false;
                                reader_skip_space(r);
                                if (!reader_take(r, ':'))
                                        return false;
                        }
                        if (!read_value(r))
                                return false;
                        reader_skip_space(r);
                        if (reader_take(r, close))
                                break;
                        if (!reader_take(r, ','))
                                return false;
                }
        }
        r->depth--;
        return true;
}

static bool read_value(Reader *r) {
        reader_skip_space(r);
        int c = reader_peek(r);
        switch (c) {
        case '{':
        case '[':
                r->pos++;
                return read_members(r, c == '{');
        case '"':
                return read_string(r);
        case 't':
                return read_word(r, "true");
        case 'f':
                return read_word(r, "false");
        case 'n':
                return read_word(r, "null");
        default:
                return (c == '-' || (c >= '0' && c <= '9')) && read_number(r);
        }
}

static Grammar grammar_of(const uint8_t *data, size_t size) {
        Reader r = { .text = data, .size = size };

        bool valid = read_value(&r);
        if (r.too_deep)
                return GRAMMAR_TOO_DEEP;
        reader_skip_space(&r);
        return valid && r.pos == size ? GRAMMAR_VALID : GRAMMAR_INVALID;
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

        /* Back from line:column to the byte it names, which for most
         * messages is known: the quote of a duplicate key, the comma of a
         * trailing comma, ... Stray UTF-8 continuation bytes share the
         * column of the character after them, so the column names the
         * first byte after the (column - 1)th character and maybe some
         * continuation bytes before it. */
        size_t offset = line_start;
        for (unsigned seen = 1; seen < err->column; offset++)
                if ((data[offset] & 0xc0) != 0x80)
                        seen++;
        bool stray_continuation = false;
        while (offset < size && (data[offset] & 0xc0) == 0x80) {
                stray_continuation = true;
                offset++;
        }
        int at = offset < size ? data[offset] : -1;

        const char *m = err->message;
        if (startswith(m, "duplicate key") || startswith(m, "unterminated string"))
                CHECK(at == '"');
        else if (startswith(m, "comments are not allowed"))
                CHECK(at == '/');
        else if (startswith(m, "trailing comma"))
                CHECK(at == ',');
        else if (startswith(m, "invalid escape") || startswith(m, "invalid \\u escape") ||
                 startswith(m, "\\u0000") || startswith(m, "unpaired UTF-16 surrogate"))
                CHECK(at == '\\');
        else if (startswith(m, "control character"))
                CHECK(at >= 0 && at < 0x20);
        else if (startswith(m, "invalid number") || startswith(m, "number longer than"))
                CHECK(at == '-' || (at >= '0' && at <= '9'));
        else if (startswith(m, "invalid literal"))
                CHECK(at == 't' || at == 'f' || at == 'n');
        else if (startswith(m, "objects and arrays nested"))
                CHECK(at == '{' || at == '[');
        else if (startswith(m, "unexpected end of file"))
                CHECK(offset == size);
        else if (startswith(m, "unexpected character '")) {
                CHECK(at > ' ' && at < 0x7f);
                CHECK(m[strlen("unexpected character '")] == at);
        } else if (startswith(m, "unexpected text after"))
                CHECK(stray_continuation ||
                      (at >= 0 && at != ' ' && at != '\t' && at != '\r' && at != '\n'));
        else if (startswith(m, "starts with"))
                CHECK(offset == 0);
}

/* Valid JSON that the loader refuses on purpose. */
static bool deliberate_refusal(const char *message) {
        static const char *const prefixes[] = {
                "top level must be a JSON object",
                "duplicate key",
                "\\u0000",
                "unpaired UTF-16 surrogate",
                "objects and arrays nested more than",
                "number longer than",
        };

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (startswith(message, prefixes[i]))
                        return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DaemonConfig *c = &untouched_marker;
        DaemonConfigError err;

        memset(&err, 0x5a, sizeof(err));
        int r = load_bytes(data, size, &c, &err);
        Grammar grammar = grammar_of(data, size);
        if (r >= 0) {
                CHECK(r == 0);
                /* An empty or blank file stands for "{}" on purpose. */
                if (!only_whitespace(data, size) && grammar != GRAMMAR_VALID) {
                        fprintf(stderr, "accepted text that is not JSON\n");
                        abort();
                }
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
        if (grammar == GRAMMAR_VALID && !deliberate_refusal(err.message)) {
                fprintf(stderr, "refused valid JSON at %u:%u: %s\n", err.line, err.column, err.message);
                abort();
        }
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
