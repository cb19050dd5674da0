/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "daemon_config.h"

/* Deeper than any real daemon.json, and below cJSON's own limit of 1000,
 * so cJSON never refuses what the checker accepted. */
#define MAX_DEPTH 512
/* cJSON parses a number from a copy of at most 63 characters. */
#define MAX_NUMBER_LENGTH 63
#define END_OF_TEXT 256
#define SYMLINK_HOPS_MAX 40

typedef struct Span {
        size_t offset;
        size_t length;
} Span;

/* A strict syntax check over the raw bytes, so that errors get a precise
 * position and a clear message, and so that what cJSON accepts silently (a
 * BOM, "\u0000" cutting a string, duplicate keys, "01", text after the
 * object) is refused before cJSON builds the tree. */
typedef struct Checker {
        const char *text;
        size_t size;
        size_t pos;
        unsigned depth;

        /* Offsets of every key and spans of every number, in document
         * order, which is the order a depth-first walk of the cJSON tree
         * meets them. */
        size_t *keys;
        size_t n_keys;
        size_t allocated_keys;
        Span *numbers;
        size_t n_numbers;
        size_t allocated_numbers;

        bool failed;
        bool has_position;
        size_t error_offset;
        char message[sizeof(((DaemonConfigError *) NULL)->message)];
} Checker;

static void checker_done(Checker *k) {
        free(k->keys);
        free(k->numbers);
}

static int checker_fail_at(Checker *k, bool has_position, size_t offset, const char *fmt, ...)
        _printf_(4, 5);

static int checker_fail_at(Checker *k, bool has_position, size_t offset, const char *fmt, ...) {
        if (!k->failed) {
                va_list ap;

                va_start(ap, fmt);
                vsnprintf(k->message, sizeof(k->message), fmt, ap);
                va_end(ap);
                k->failed = true;
                k->has_position = has_position;
                k->error_offset = offset;
        }
        return -EBADMSG;
}

#define checker_fail(k, offset, ...) checker_fail_at((k), true, (offset), __VA_ARGS__)

static int grow(void **array, size_t *allocated, size_t needed, size_t element_size) {
        if (needed <= *allocated)
                return 0;

        size_t n = MAX(needed, MAX(*allocated * 2, (size_t) 16));
        void *bigger = reallocarray(*array, n, element_size);
        if (!bigger)
                return -ENOMEM;
        *array = bigger;
        *allocated = n;
        return 0;
}

static int record_key(Checker *k, size_t offset) {
        if (grow((void **) &k->keys, &k->allocated_keys, k->n_keys + 1, sizeof(size_t)) < 0)
                return -ENOMEM;
        k->keys[k->n_keys++] = offset;
        return 0;
}

static int record_number(Checker *k, size_t offset, size_t length) {
        if (grow((void **) &k->numbers, &k->allocated_numbers, k->n_numbers + 1, sizeof(Span)) < 0)
                return -ENOMEM;
        k->numbers[k->n_numbers++] = (Span) { offset, length };
        return 0;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool starts_value(int c) {
        return c == '{' || c == '[' || c == '"' || c == '-' || is_digit((char) c) ||
               c == 't' || c == 'f' || c == 'n';
}

/* Skips whitespace; *ret is the first byte of the next token or
 * END_OF_TEXT. */
static int next_token(Checker *k, int *ret) {
        while (k->pos < k->size && is_space(k->text[k->pos]))
                k->pos++;
        if (k->pos >= k->size) {
                *ret = END_OF_TEXT;
                return 0;
        }
        if (k->text[k->pos] == '/' && k->pos + 1 < k->size &&
            (k->text[k->pos + 1] == '/' || k->text[k->pos + 1] == '*'))
                return checker_fail(k, k->pos, "comments are not allowed in JSON (dockerd refuses them)");

        *ret = (unsigned char) k->text[k->pos];
        return 0;
}

static int fail_unexpected(Checker *k, const char *expected) {
        if (k->pos >= k->size)
                return checker_fail(k, k->pos, "unexpected end of file, expected %s", expected);

        unsigned char c = (unsigned char) k->text[k->pos];
        if (c > ' ' && c < 0x7f)
                return checker_fail(k, k->pos, "unexpected character '%c', expected %s", c, expected);
        return checker_fail(k, k->pos, "unexpected byte 0x%02x, expected %s", c, expected);
}

static bool parse_hex4(const Checker *k, size_t offset, unsigned *ret) {
        unsigned v = 0;

        if (offset + 4 > k->size)
                return false;
        for (size_t i = offset; i < offset + 4; i++) {
                char c = k->text[i];
                v <<= 4;
                if (is_digit(c))
                        v |= (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned) (c - 'A' + 10);
                else
                        return false;
        }
        *ret = v;
        return true;
}

/* At a backslash inside the string that starts at string_start. */
static int check_escape(Checker *k, size_t string_start) {
        if (k->pos + 1 >= k->size)
                return checker_fail(k, string_start, "unterminated string");

        char e = k->text[k->pos + 1];
        if (e != 0 && strchr("\"\\/bfnrt", e)) {
                k->pos += 2;
                return 0;
        }
        if (e != 'u') {
                if (e > ' ' && e < 0x7f)
                        return checker_fail(k, k->pos, "invalid escape '\\%c' in a string", e);
                return checker_fail(k, k->pos, "invalid escape in a string");
        }

        unsigned unit;
        if (!parse_hex4(k, k->pos + 2, &unit))
                return checker_fail(k, k->pos, "invalid \\u escape (it needs four hex digits)");
        if (unit == 0)
                /* cJSON would end the string there and silently drop the rest. */
                return checker_fail(k, k->pos, "\\u0000 (a NUL character) inside a string is not supported");
        if (unit >= 0xDC00 && unit <= 0xDFFF)
                return checker_fail(k, k->pos, "unpaired UTF-16 surrogate in a \\u escape");
        if (unit >= 0xD800 && unit <= 0xDBFF) {
                unsigned low;
                if (k->pos + 7 < k->size && k->text[k->pos + 6] == '\\' && k->text[k->pos + 7] == 'u' &&
                    parse_hex4(k, k->pos + 8, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                        k->pos += 12;
                        return 0;
                }
                return checker_fail(k, k->pos, "unpaired UTF-16 surrogate in a \\u escape");
        }
        k->pos += 6;
        return 0;
}

static int check_string(Checker *k) {
        size_t start = k->pos++;

        for (;;) {
                if (k->pos >= k->size)
                        return checker_fail(k, start, "unterminated string");

                unsigned char c = (unsigned char) k->text[k->pos];
                if (c == '"') {
                        k->pos++;
                        return 0;
                }
                if (c == '\n' || c == '\r')
                        return checker_fail(k, start, "unterminated string (a line break inside a string must be written \\n)");
                if (c < ' ')
                        return checker_fail(k, k->pos, "control character 0x%02x inside a string (it must be escaped)", c);
                if (c == '\\') {
                        int r = check_escape(k, start);
                        if (r < 0)
                                return r;
                        continue;
                }
                k->pos++;
        }
}

static int check_number(Checker *k) {
        const char *t = k->text;
        size_t start = k->pos, p = k->pos;

        if (p < k->size && t[p] == '-')
                p++;
        if (p < k->size && t[p] == '0') {
                p++;
                if (p < k->size && is_digit(t[p]))
                        return checker_fail(k, start, "invalid number (leading zero)");
        } else if (p < k->size && is_digit(t[p])) {
                while (p < k->size && is_digit(t[p]))
                        p++;
        } else
                return checker_fail(k, start, "invalid number");

        if (p < k->size && t[p] == '.') {
                p++;
                if (p >= k->size || !is_digit(t[p]))
                        return checker_fail(k, start, "invalid number (digits must follow '.')");
                while (p < k->size && is_digit(t[p]))
                        p++;
        }
        if (p < k->size && (t[p] == 'e' || t[p] == 'E')) {
                p++;
                if (p < k->size && (t[p] == '+' || t[p] == '-'))
                        p++;
                if (p >= k->size || !is_digit(t[p]))
                        return checker_fail(k, start, "invalid number (the exponent has no digits)");
                while (p < k->size && is_digit(t[p]))
                        p++;
        }
        if (p - start > MAX_NUMBER_LENGTH)
                return checker_fail(k, start, "number longer than %d characters", MAX_NUMBER_LENGTH);

        k->pos = p;
        return record_number(k, start, p - start);
}

static int check_literal(Checker *k, const char *word) {
        size_t n = strlen(word);

        if (k->size - k->pos < n || memcmp(k->text + k->pos, word, n) != 0)
                return checker_fail(k, k->pos, "invalid literal (expected true, false or null)");
        k->pos += n;
        return 0;
}

static int check_value(Checker *k);

static int enter_container(Checker *k) {
        if (++k->depth > MAX_DEPTH)
                return checker_fail(k, k->pos, "objects and arrays nested more than %d levels deep", MAX_DEPTH);
        k->pos++;
        return 0;
}

static int check_object(Checker *k) {
        int c, r;

        r = enter_container(k);
        if (r < 0)
                return r;
        r = next_token(k, &c);
        if (r < 0)
                return r;
        if (c == '}') {
                k->pos++;
                k->depth--;
                return 0;
        }

        for (;;) {
                if (c != '"')
                        return fail_unexpected(k, "a key in double quotes");
                r = record_key(k, k->pos);
                if (r < 0)
                        return r;
                r = check_string(k);
                if (r < 0)
                        return r;

                r = next_token(k, &c);
                if (r < 0)
                        return r;
                if (c != ':')
                        return fail_unexpected(k, "':' after the key");
                k->pos++;

                r = check_value(k);
                if (r < 0)
                        return r;
                size_t value_end = k->pos;

                r = next_token(k, &c);
                if (r < 0)
                        return r;
                if (c == '}') {
                        k->pos++;
                        k->depth--;
                        return 0;
                }
                if (c == '"')
                        /* Point where the comma belongs, not at the next key. */
                        return checker_fail(k, value_end, "missing ',' between object members");
                if (c != ',')
                        return fail_unexpected(k, "',' or '}'");

                size_t comma = k->pos++;
                r = next_token(k, &c);
                if (r < 0)
                        return r;
                if (c == '}')
                        return checker_fail(k, comma, "trailing comma before '}'");
        }
}

static int check_array(Checker *k) {
        int c, r;

        r = enter_container(k);
        if (r < 0)
                return r;
        r = next_token(k, &c);
        if (r < 0)
                return r;
        if (c == ']') {
                k->pos++;
                k->depth--;
                return 0;
        }

        for (;;) {
                r = check_value(k);
                if (r < 0)
                        return r;
                size_t value_end = k->pos;

                r = next_token(k, &c);
                if (r < 0)
                        return r;
                if (c == ']') {
                        k->pos++;
                        k->depth--;
                        return 0;
                }
                if (starts_value(c))
                        return checker_fail(k, value_end, "missing ',' between array elements");
                if (c != ',')
                        return fail_unexpected(k, "',' or ']'");

                size_t comma = k->pos++;
                r = next_token(k, &c);
                if (r < 0)
                        return r;
                if (c == ']')
                        return checker_fail(k, comma, "trailing comma before ']'");
        }
}

static int check_value(Checker *k) {
        int c;
        int r = next_token(k, &c);
        if (r < 0)
                return r;

        switch (c) {
        case '{':
                return check_object(k);
        case '[':
                return check_array(k);
        case '"':
                return check_string(k);
        case 't':
                return check_literal(k, "true");
        case 'f':
                return check_literal(k, "false");
        case 'n':
                return check_literal(k, "null");
        default:
                if (c == '-' || is_digit((char) c))
                        return check_number(k);
                return fail_unexpected(k, "a value");
        }
}

/* *ret_blank is set when the text holds nothing but whitespace. */
static int check_document(Checker *k, bool *ret_blank) {
        static const char utf8_bom[] = "\xef\xbb\xbf";
        int c, r;

        if (k->size >= 3 && memcmp(k->text, utf8_bom, 3) == 0)
                return checker_fail(k, 0, "starts with a byte order mark (BOM): save it as UTF-8 without BOM");
        if (k->size >= 2 && (memcmp(k->text, "\xff\xfe", 2) == 0 || memcmp(k->text, "\xfe\xff", 2) == 0))
                return checker_fail(k, 0, "starts with a UTF-16 byte order mark: save it as UTF-8 without BOM");

        r = next_token(k, &c);
        if (r < 0)
                return r;
        if (c == END_OF_TEXT) {
                *ret_blank = true;
                return 0;
        }
        if (c != '{') {
                if (starts_value(c))
                        return checker_fail(k, k->pos, "top level must be a JSON object");
                return fail_unexpected(k, "'{'");
        }

        r = check_object(k);
        if (r < 0)
                return r;

        r = next_token(k, &c);
        if (r < 0)
                return r;
        if (c != END_OF_TEXT)
                return checker_fail(k, k->pos, "unexpected text after the closing '}' of the top-level object");

        *ret_blank = false;
        return 0;
}

static void set_error(DaemonConfigError *err, const char *text, bool has_position, size_t offset,
                      const char *message) {
        if (!err)
                return;

        *err = (DaemonConfigError) {};
        if (has_position) {
                /* 1-based; a column is a character, so UTF-8 continuation
                 * bytes do not count. */
                err->line = 1;
                err->column = 1;
                for (size_t i = 0; i < offset; i++) {
                        unsigned char c = (unsigned char) text[i];
                        if (c == '\n') {
                                err->line++;
                                err->column = 1;
                        } else if ((c & 0xc0) != 0x80)
                                err->column++;
                }
        }
        snprintf(err->message, sizeof(err->message), "%s", message);
}

typedef struct KeyRef {
        const char *key;
        size_t ordinal;
} KeyRef;

static int compare_key_refs(const void *a, const void *b) {
        const KeyRef *x = a, *y = b;
        int r = strcmp(x->key, y->key);
        if (r != 0)
                return r;
        return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

typedef struct TreeWalk {
        const Checker *checker;
        size_t next_key;
        size_t next_number;
        /* The earliest key, in document order, that repeats a sibling. */
        bool have_duplicate;
        size_t duplicate_ordinal;
        const char *duplicate_key;
} TreeWalk;

static int note_duplicates(TreeWalk *w, KeyRef *refs, size_t n) {
        if (n < 2)
                return 0;

        qsort(refs, n, sizeof(KeyRef), compare_key_refs);
        for (size_t i = 1; i < n; i++) {
                if (!streq(refs[i - 1].key, refs[i].key))
                        continue;
                if (!w->have_duplicate || refs[i].ordinal < w->duplicate_ordinal) {
                        w->have_duplicate = true;
                        w->duplicate_ordinal = refs[i].ordinal;
                        w->duplicate_key = refs[i].key;
                }
        }
        return 0;
}

/* Gives every number its literal text and finds duplicate keys. */
static int walk_tree(TreeWalk *w, cJSON *item) {
        if (cJSON_IsNumber(item)) {
                if (w->next_number >= w->checker->n_numbers)
                        return -EBADMSG;

                Span s = w->checker->numbers[w->next_number++];
                char *literal = cJSON_malloc(s.length + 1);
                if (!literal)
                        return -ENOMEM;
                memcpy(literal, w->checker->text + s.offset, s.length);
                literal[s.length] = 0;
                item->valuestring = literal;
                return 0;
        }
        if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
                return 0;

        bool object = cJSON_IsObject(item);
        size_t n = 0;
        for (cJSON *child = item->child; child; child = child->next)
                n++;

        _cleanup_free_ KeyRef *refs = NULL;
        if (object && n > 1) {
                refs = calloc(n, sizeof(KeyRef));
                if (!refs)
                        return -ENOMEM;
        }

        size_t i = 0;
        for (cJSON *child = item->child; child; child = child->next, i++) {
                if (object) {
                        if (!child->string)
                                return -EBADMSG;
                        if (refs)
                                refs[i] = (KeyRef) { child->string, w->next_key };
                        w->next_key++;
                }
                int r = walk_tree(w, child);
                if (r < 0)
                        return r;
        }
        return note_duplicates(w, refs, refs ? n : 0);
}

static void sanitize_for_message(const char *in, char *out, size_t out_size) {
        size_t n = 0;
        for (; *in && n + 1 < out_size; in++)
                out[n++] = ((unsigned char) *in < ' ' || *in == 0x7f) ? '?' : *in;
        out[n] = 0;
}

/* Builds the tree from text the checker accepted. */
static int parse_checked(const Checker *k, cJSON **ret, DaemonConfigError *err) {
        const char *end = NULL;

        /* cJSON counts the terminating NUL in the length when it has to
         * verify that nothing follows the value. */
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_ParseWithLengthOpts(k->text, k->size + 1, &end, true);
        if (!root) {
                bool has_position = end && end >= k->text && end <= k->text + k->size;
                set_error(err, k->text, has_position, has_position ? (size_t) (end - k->text) : 0,
                          "the JSON parser (cJSON) refused the text here");
                return -EBADMSG;
        }

        TreeWalk w = { .checker = k };
        int r = walk_tree(&w, root);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || w.next_key != k->n_keys || w.next_number != k->n_numbers) {
                set_error(err, k->text, false, 0, "the JSON parser (cJSON) read the text differently than expected");
                return -EBADMSG;
        }
        if (w.have_duplicate) {
                char key[64], message[sizeof(err->message)];
                sanitize_for_message(w.duplicate_key, key, sizeof(key));
                snprintf(message, sizeof(message), "duplicate key \"%s\"", key);
                set_error(err, k->text, true, k->keys[w.duplicate_ordinal], message);
                return -EBADMSG;
        }

        *ret = TAKE_PTR(root);
        return 0;
}

static bool same_file_state(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int daemon_config_load(const char *path, DaemonConfig **ret, DaemonConfigError *err) {
        if (!path || !ret)
                return -EINVAL;

        _cleanup_(daemon_config_freep) DaemonConfig *c = calloc(1, sizeof(DaemonConfig));
        if (!c)
                return -ENOMEM;
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;

        struct stat before;
        if (stat(path, &before) < 0) {
                if (errno != ENOENT)
                        return negative_errno();

                c->original = strdup("");
                c->root = cJSON_CreateObject();
                if (!c->original || !c->root)
                        return -ENOMEM;
                *ret = TAKE_PTR(c);
                return 0;
        }

        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file(path, DAEMON_CONFIG_MAX_SIZE, &text, &size);
        if (r < 0)
                return r;

        /* The backup must be the bytes we parsed, with that file's mode. */
        struct stat after;
        if (stat(path, &after) < 0)
                return negative_errno();
        if (!same_file_state(&before, &after))
                return -EAGAIN;

        _cleanup_(checker_done) Checker k = { .text = text, .size = size };
        bool blank;
        r = check_document(&k, &blank);
        if (r == -EBADMSG)
                set_error(err, text, k.has_position, k.error_offset, k.message);
        if (r < 0)
                return r;

        if (blank) {
                c->root = cJSON_CreateObject();
                if (!c->root)
                        return -ENOMEM;
        } else {
                r = parse_checked(&k, &c->root, err);
                if (r < 0)
                        return r;
        }

        c->existed = true;
        c->st = after;
        c->original = TAKE_PTR(text);
        c->original_size = size;
        *ret = TAKE_PTR(c);
        return 0;
}

void daemon_config_free(DaemonConfig *c) {
        if (!c)
                return;
        free(c->path);
        free(c->original);
        cJSON_Delete(c->root);
        free(c);
}

int daemon_config_get_data_root(const DaemonConfig *c, const char **ret) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(c->root, "data-root");
        if (!item)
                item = cJSON_GetObjectItemCaseSensitive(c->root, "graph");
        if (!item) {
                *ret = NULL;
                return 0;
        }
        if (!cJSON_IsString(item) || !item->valuestring)
                return -EBADMSG;

        *ret = item->valuestring;
        return 1;
}

int daemon_config_set_data_root(DaemonConfig *c, const char *data_root) {
        if (!data_root || data_root[0] != '/')
                return -EINVAL;
        if (!cJSON_IsObject(c->root))
                return -EINVAL;

        /* Everything that can fail happens before the tree changes. */
        _cleanup_(cJSON_Deletep) cJSON *value = cJSON_CreateString(data_root);
        if (!value)
                return -ENOMEM;
        static const char key[] = "data-root";
        value->string = cJSON_malloc(sizeof(key));
        if (!value->string)
                return -ENOMEM;
        memcpy(value->string, key, sizeof(key));

        cJSON *slot = cJSON_GetObjectItemCaseSensitive(c->root, "data-root");
        if (!slot)
                slot = cJSON_GetObjectItemCaseSensitive(c->root, "graph");

        if (slot) {
                /* Takes over slot's place in the list; slot is freed. */
                if (!cJSON_ReplaceItemViaPointer(c->root, slot, value))
                        return -ENOMEM;
        } else {
                /* value already carries its key, so it joins as a member. */
                if (!cJSON_AddItemToArray(c->root, value))
                        return -ENOMEM;
        }
        TAKE_PTR(value);

        cJSON_DeleteItemFromObjectCaseSensitive(c->root, "graph");
        return 0;
}

/* A number keeps its literal only while the literal still means the value
 * (someone may have changed valuedouble since load). */
static bool literal_matches(const cJSON *item) {
        _cleanup_(cJSON_Deletep) cJSON *parsed = cJSON_ParseWithLength(item->valuestring, strlen(item->valuestring));
        return cJSON_IsNumber(parsed) && parsed->valuedouble == item->valuedouble;
}

static void numbers_to_literals(cJSON *item) {
        if (cJSON_IsNumber(item) && item->valuestring) {
                if (literal_matches(item))
                        item->type = (item->type & ~0xff) | cJSON_Raw;
                else {
                        cJSON_free(item->valuestring);
                        item->valuestring = NULL;
                }
                return;
        }
        for (cJSON *child = item->child; child; child = child->next)
                numbers_to_literals(child);
}

int daemon_config_render(const DaemonConfig *c, char **ret) {
        _cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(c->root, true);
        if (!copy)
                return -ENOMEM;
        numbers_to_literals(copy);

        char *printed = cJSON_Print(copy);
        if (!printed)
                return -ENOMEM;

        /* cJSON indents with tabs and puts a tab after ':'. It escapes
         * every control character inside strings, so a raw tab is always
         * formatting. */
        size_t len = strlen(printed);
        _cleanup_free_ char *text = malloc(len * 2 + 2);
        if (!text) {
                cJSON_free(printed);
                return -ENOMEM;
        }
        size_t n = 0;
        bool line_start = true;
        for (const char *p = printed; *p; p++) {
                if (*p == '\t') {
                        text[n++] = ' ';
                        if (line_start)
                                text[n++] = ' ';
                        continue;
                }
                line_start = *p == '\n';
                text[n++] = *p;
        }
        text[n++] = '\n';
        text[n] = 0;
        cJSON_free(printed);

        *ret = TAKE_PTR(text);
        return 0;
}

static int read_link(const char *path, char **ret) {
        _cleanup_free_ char *target = malloc(PATH_MAX);
        if (!target)
                return -ENOMEM;

        ssize_t n = readlink(path, target, PATH_MAX);
        if (n < 0)
                return negative_errno();
        if (n >= PATH_MAX)
                return -ENAMETOOLONG;
        target[n] = 0;

        *ret = TAKE_PTR(target);
        return 0;
}

/* realpath() of the directory part plus the last component as is: for a
 * file that does not exist yet. */
static int resolve_missing_file(const char *path, char **ret) {
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        if (!*base || streq(base, ".") || streq(base, ".."))
                return -EINVAL;

        _cleanup_free_ char *dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        _cleanup_free_ char *real_dir = realpath(dir, NULL);
        if (!real_dir)
                return negative_errno();

        char *resolved = strdup_printf("%s/%s", streq(real_dir, "/") ? "" : real_dir, base);
        if (!resolved)
                return -ENOMEM;
        *ret = resolved;
        return 0;
}

int daemon_config_resolve_path(const char *path, char **ret) {
        struct stat st;

        if (!path || !*path)
                return -EINVAL;

        if (lstat(path, &st) < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                st.st_mode = 0;
        }
        if (!S_ISLNK(st.st_mode)) {
                char *copy = strdup(path);
                if (!copy)
                        return -ENOMEM;
                *ret = copy;
                return 0;
        }

        char *resolved = realpath(path, NULL);
        if (resolved) {
                *ret = resolved;
                return 0;
        }
        if (errno != ENOENT)
                return negative_errno();

        /* Dangling: follow the chain by hand to the name that is missing. */
        _cleanup_free_ char *current = strdup(path);
        if (!current)
                return -ENOMEM;
        for (unsigned hops = 0;; hops++) {
                if (lstat(current, &st) < 0) {
                        if (errno == ENOENT)
                                break;
                        return negative_errno();
                }
                if (!S_ISLNK(st.st_mode))
                        break;
                if (hops >= SYMLINK_HOPS_MAX)
                        return -ELOOP;

                _cleanup_free_ char *target = NULL;
                int r = read_link(current, &target);
                if (r < 0)
                        return r;

                const char *slash = strrchr(current, '/');
                char *next;
                if (target[0] == '/' || !slash)
                        next = TAKE_PTR(target);
                else
                        next = strdup_printf("%.*s/%s", (int) (slash - current), current, target);
                if (!next)
                        return -ENOMEM;
                free(current);
                current = next;
        }

        return resolve_missing_file(current, ret);
}

/* Creates dir and its missing parents, 0755 whatever the umask. */
static int mkdir_parents(const char *dir) {
        struct stat st;

        if (stat(dir, &st) >= 0)
                return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        if (errno != ENOENT)
                return negative_errno();

        _cleanup_free_ char *p = strdup(dir);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != 0)
                        continue;

                char saved = *s;
                *s = 0;
                if (mkdir(p, 0755) >= 0) {
                        if (chmod(p, 0755) < 0)
                                return negative_errno();
                } else if (errno != EEXIST)
                        return negative_errno();
                *s = saved;
                if (!saved)
                        break;
        }
        return 0;
}

static int fill_temp_file(int fd, const void *data, size_t size, const struct stat *like) {
        mode_t mode = like ? (like->st_mode & 07777) : 0644;
        uid_t uid = like ? like->st_uid : 0;
        gid_t gid = like ? like->st_gid : 0;
        struct stat st;

        int r = write_all(fd, data, size);
        if (r < 0)
                return r;

        /* Only chown when needed, so that a non-root caller can write a
         * file it owns itself. chown before chmod: it may clear bits. */
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return negative_errno();
        if (fchmod(fd, mode) < 0)
                return negative_errno();
        if (fsync(fd) < 0)
                return negative_errno();
        return 0;
}

static int rename_into_place(int dir_fd, const char *from, const char *to, bool replace) {
        if (replace)
                return renameat(dir_fd, from, dir_fd, to) < 0 ? negative_errno() : 0;

        if (renameat2(dir_fd, from, dir_fd, to, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return negative_errno();

        /* No RENAME_NOREPLACE on this filesystem: a hard link never
         * replaces anything either. */
        if (linkat(dir_fd, from, dir_fd, to, 0) < 0)
                return negative_errno();
        (void) unlinkat(dir_fd, from, 0);
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, const struct stat *like, bool replace) {
        _cleanup_free_ char *target = NULL;
        int r = daemon_config_resolve_path(path, &target);
        if (r < 0)
                return r;

        const char *slash = strrchr(target, '/');
        const char *base = slash ? slash + 1 : target;
        if (!*base || streq(base, ".") || streq(base, ".."))
                return -EINVAL;
        _cleanup_free_ char *dir = slash ? strndup(target, slash == target ? 1 : (size_t) (slash - target))
                                         : strdup(".");
        if (!dir)
                return -ENOMEM;

        r = mkdir_parents(dir);
        if (r < 0)
                return r;
        _cleanup_close_ int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return negative_errno();

        _cleanup_free_ char *temp = strdup_printf("%s/.%s.XXXXXX", dir, base);
        if (!temp)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(temp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        const char *temp_name = temp + strlen(dir) + 1;

        r = fill_temp_file(fd, data, size, like);
        if (r >= 0) {
                /* close() reports the write errors of some filesystems (NFS). */
                r = close(TAKE_FD(fd)) < 0 ? negative_errno() : 0;
        }
        if (r >= 0)
                r = rename_into_place(dir_fd, temp_name, base, replace);
        if (r < 0) {
                (void) unlinkat(dir_fd, temp_name, 0);
                return r;
        }

        if (fsync(dir_fd) < 0)
                return negative_errno();
        return 0;
}

int daemon_config_write_atomic(const char *path, const char *text, const struct stat *like) {
        if (!path || !text)
                return -EINVAL;
        return write_file_atomic(path, text, strlen(text), like, true);
}

/* 1 when path holds exactly original, 0 when it does not exist, -EEXIST
 * when it holds anything else. */
static int file_holds(const char *path, const void *original, size_t size) {
        _cleanup_free_ char *data = NULL;
        size_t data_size = 0;

        int r = read_full_file(path, size + 1, &data, &data_size);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG)
                return -EEXIST;
        if (r < 0)
                return r;
        return data_size == size && memcmp(data, original, size) == 0 ? 1 : -EEXIST;
}

int write_backup_once(const char *backup_path, const void *original, size_t size, const struct stat *like) {
        int r = file_holds(backup_path, original, size);
        if (r != 0)
                return r > 0 ? 0 : r;

        r = write_file_atomic(backup_path, original, size, like, false);
        if (r == -EEXIST) {
                /* Someone wrote it meanwhile: fine if it is the same. */
                r = file_holds(backup_path, original, size);
                return r > 0 ? 0 : -EEXIST;
        }
        return r;
}

int daemon_config_write_backup(const DaemonConfig *c, const char *backup_path) {
        if (!c || !backup_path)
                return -EINVAL;
        if (!c->existed)
                return -ENOENT;
        return write_backup_once(backup_path, c->original, c->original_size, &c->st);
}
