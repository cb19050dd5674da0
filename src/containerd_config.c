/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <glob.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>

#include "containerd_config.h"
#include "daemon_config.h"
#include "paths.h"

void containerd_config_free(ContainerdConfig *c) {
        if (!c)
                return;
        free(c->path);
        free(c->original);
        free(c->root);
        strv_freep(&c->imports);
        free(c);
}

/* A reader over the text that knows its line, so every refusal says where. */
typedef struct Scanner {
        const char *text;
        size_t size;
        size_t pos;
        unsigned line;
        ContainerdConfigError *err;
} Scanner;

_printf_(2, 3) static int refuse(Scanner *s, const char *fmt, ...) {
        if (s->err) {
                va_list ap;
                s->err->line = s->line;
                va_start(ap, fmt);
                vsnprintf(s->err->message, sizeof s->err->message, fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

static bool at_end(const Scanner *s) {
        return s->pos >= s->size;
}

static char peek(const Scanner *s, size_t ahead) {
        return s->pos + ahead < s->size ? s->text[s->pos + ahead] : 0;
}

static bool at_eol(const Scanner *s) {
        return at_end(s) || peek(s, 0) == '\n' || (peek(s, 0) == '\r' && peek(s, 1) == '\n');
}

static void skip_blanks(Scanner *s) {
        while (!at_end(s) && (peek(s, 0) == ' ' || peek(s, 0) == '\t'))
                s->pos++;
}

/* Past the end of the line, counting it. */
static void next_line(Scanner *s) {
        while (!at_end(s) && peek(s, 0) != '\n')
                s->pos++;
        if (!at_end(s)) {
                s->pos++;
                s->line++;
        }
}

static bool is_bare_key_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A string on one line, the scanner on its opening quote. Sets *ret_escaped
 * when a basic string holds a backslash. */
static int scan_string(Scanner *s, bool *ret_escaped) {
        char quote = peek(s, 0);
        bool escaped = false;

        if (peek(s, 1) == quote && peek(s, 2) == quote)
                return refuse(s, "a multi-line string");
        s->pos++;
        for (;;) {
                if (at_eol(s))
                        return refuse(s, "a string that does not end on its line");
                char c = peek(s, 0);
                if (c == quote) {
                        s->pos++;
                        break;
                }
                if ((unsigned char) c < 0x20 && c != '\t')
                        return refuse(s, "a control character in a string");
                if (c == 0x7f)
                        return refuse(s, "a control character in a string");
                if (c == '\\' && quote == '"') {
                        escaped = true;
                        s->pos++;
                        if (at_eol(s))
                                return refuse(s, "a string that does not end on its line");
                }
                s->pos++;
        }
        if (ret_escaped)
                *ret_escaped = escaped;
        return 0;
}

/* An array or inline table that must close on its own line. */
static int scan_bracketed(Scanner *s) {
        unsigned depth = 0;
        for (;;) {
                if (at_eol(s))
                        return refuse(s, "an array or inline table spanning lines");
                char c = peek(s, 0);
                if (c == '"' || c == '\'') {
                        int r = scan_string(s, NULL);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (c == '#')
                        return refuse(s, "a comment inside an array (an array spanning lines)");
                if ((unsigned char) c < 0x20 && c != '\t')
                        return refuse(s, "a control character");
                s->pos++;
                if (c == '[' || c == '{')
                        depth++;
                else if (c == ']' || c == '}') {
                        if (depth == 0)
                                return refuse(s, "an unbalanced '%c'", c);
                        if (--depth == 0)
                                return 0;
                }
        }
}

/* Numbers, booleans, dates without a space: one word of these. */
static bool is_scalar_char(char c) {
        return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

static int scan_value(Scanner *s) {
        char c = peek(s, 0);
        if (c == '"' || c == '\'')
                return scan_string(s, NULL);
        if (c == '[' || c == '{')
                return scan_bracketed(s);
        size_t start = s->pos;
        while (!at_end(s) && is_scalar_char(peek(s, 0)))
                s->pos++;
        if (s->pos == start)
                return refuse(s, "a value it cannot read");
        return 0;
}

/* The strings of a one-line array of plain strings, as imports holds. */
static int read_string_array(Scanner *s, size_t start, size_t end, char ***ret) {
        _cleanup_strv_free_ char **strv = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!strv)
                return -ENOMEM;

        for (size_t i = start + 1; i < end - 1;) {
                char c = s->text[i];
                if (c == ' ' || c == '\t' || c == ',') {
                        i++;
                        continue;
                }
                if (c != '"' && c != '\'')
                        return refuse(s, "imports holds something other than strings");
                size_t close = i + 1;
                while (close < end && s->text[close] != c) {
                        if (s->text[close] == '\\' && c == '"')
                                return refuse(s, "an escape in an imports path");
                        close++;
                }
                if (close >= end)
                        return refuse(s, "imports holds something other than strings");
                char **bigger = reallocarray(strv, n + 2, sizeof(char *));
                if (!bigger)
                        return -ENOMEM;
                strv = bigger;
                strv[n] = strndup(s->text + i + 1, close - i - 1);
                strv[n + 1] = NULL;
                if (!strv[n])
                        return -ENOMEM;
                n++;
                i = close + 1;
        }
        *ret = TAKE_PTR(strv);
        return 0;
}

bool containerd_config_root_is_plain(const char *root) {
        if (!root || root[0] != '/')
                return false;
        for (const unsigned char *p = (const unsigned char *) root; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\'' || *p == '\\')
                        return false;
        return true;
}

static int parse_top_level(Scanner *s, ContainerdConfig *c) {
        bool have_key_line = false;
        size_t after_last_key = 0;
        int r;

        if (s->size >= 3 && memcmp(s->text, "\xef\xbb\xbf", 3) == 0)
                return refuse(s, "a UTF-8 byte order mark");
        if (memchr(s->text, 0, s->size))
                return refuse(s, "a NUL byte in the file");
        for (size_t i = 0; i < s->size; i++)
                if (s->text[i] == '\r' && (i + 1 >= s->size || s->text[i + 1] != '\n')) {
                        s->line = 1;
                        for (size_t j = 0; j < i; j++)
                                s->line += s->text[j] == '\n';
                        return refuse(s, "a carriage return without a line feed");
                }

        c->insert_at = s->size;
        while (!at_end(s)) {
                size_t line_start = s->pos;
                skip_blanks(s);
                if (at_eol(s) || peek(s, 0) == '#') {
                        next_line(s);
                        continue;
                }
                if (peek(s, 0) == '[') {
                        c->insert_at = line_start;
                        break;
                }

                size_t key_start = s->pos, key_end;
                char quote = peek(s, 0);
                if (quote == '"' || quote == '\'') {
                        bool escaped = false;
                        r = scan_string(s, &escaped);
                        if (r < 0)
                                return r;
                        if (escaped)
                                return refuse(s, "an escape in a quoted key");
                        key_start++;
                        key_end = s->pos - 1;
                } else {
                        while (!at_end(s) && is_bare_key_char(peek(s, 0)))
                                s->pos++;
                        key_end = s->pos;
                        if (key_end == key_start)
                                return refuse(s, "a line that is neither a key, a table nor a comment");
                }
                skip_blanks(s);
                if (peek(s, 0) == '.')
                        return refuse(s, "a dotted key");
                if (peek(s, 0) != '=')
                        return refuse(s, "a key without '='");
                s->pos++;
                skip_blanks(s);

                size_t value_start = s->pos;
                r = scan_value(s);
                if (r < 0)
                        return r;
                size_t value_end = s->pos;
                skip_blanks(s);
                if (peek(s, 0) == '#') {
                        while (!at_eol(s))
                                s->pos++;
                }
                if (!at_eol(s))
                        return refuse(s, "text after the value");

                size_t key_size = key_end - key_start;
                const char *key = s->text + key_start;
                /* containerd's TOML decoder matches keys to its fields
                 * ignoring case: "Root" would set the root this edit
                 * misses. */
                if ((key_size == 4 && strncasecmp(key, "root", 4) == 0 && memcmp(key, "root", 4) != 0) ||
                    (key_size == 7 && strncasecmp(key, "imports", 7) == 0 && memcmp(key, "imports", 7) != 0))
                        return refuse(s, "the key '%.*s', which containerd reads as \"%s\"", (int) key_size, key,
                                      key_size == 4 ? "root" : "imports");
                if (key_size == 4 && memcmp(key, "root", 4) == 0) {
                        if (c->root)
                                return refuse(s, "root is set a second time (first on line %u)", c->root_line);
                        char first = s->text[value_start];
                        if ((first != '"' && first != '\'') ||
                            memchr(s->text + value_start, '\\', value_end - value_start))
                                return refuse(s, "root is not a plain string (a basic string without escapes "
                                                 "or a literal string)");
                        c->root = strndup(s->text + value_start + 1, value_end - value_start - 2);
                        if (!c->root)
                                return -ENOMEM;
                        if (c->root[0] != '/')
                                return refuse(s, "root is not an absolute path");
                        c->root_line = s->line;
                        c->value_start = value_start;
                        c->value_end = value_end;
                } else if (key_size == 7 && memcmp(key, "imports", 7) == 0) {
                        if (s->text[value_start] != '[')
                                return refuse(s, "imports is not an array");
                        strv_freep(&c->imports);
                        c->imports = NULL;
                        r = read_string_array(s, value_start, value_end, &c->imports);
                        if (r < 0)
                                return r;
                }
                next_line(s);
                have_key_line = true;
                after_last_key = s->pos;
        }
        if (have_key_line)
                c->insert_at = after_last_key;
        return 0;
}

static int config_new(ContainerdConfig **ret) {
        ContainerdConfig *c = calloc(1, sizeof(ContainerdConfig));
        if (!c)
                return -ENOMEM;
        c->imports = calloc(1, sizeof(char *));
        c->original = strdup("");
        if (!c->imports || !c->original) {
                containerd_config_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

int containerd_config_parse(const char *text, size_t size, ContainerdConfig **ret, ContainerdConfigError *err) {
        _cleanup_(containerd_config_freep) ContainerdConfig *c = NULL;
        int r = config_new(&c);
        if (r < 0)
                return r;

        free(c->original);
        c->original = malloc(size + 1);
        if (!c->original)
                return -ENOMEM;
        memcpy(c->original, text, size);
        c->original[size] = 0;
        c->original_size = size;
        c->existed = true;

        Scanner s = { .text = c->original, .size = size, .line = 1, .err = err };
        r = parse_top_level(&s, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int containerd_config_load(const char *path, ContainerdConfig **ret, ContainerdConfigError *err) {
        _cleanup_(containerd_config_freep) ContainerdConfig *c = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        struct stat st;
        int r;

        r = read_full_file(path, CONTAINERD_CONFIG_MAX_SIZE, &text, &size);
        if (r == -ENOENT)
                r = config_new(&c);
        else if (r >= 0) {
                if (stat(path, &st) < 0)
                        return negative_errno();
                r = containerd_config_parse(text, size, &c, err);
                if (r >= 0)
                        c->st = st;
        }
        if (r < 0)
                return r;
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

const char *containerd_config_effective_root(const ContainerdConfig *c) {
        return c && c->root ? c->root : CONTAINERD_DEFAULT_ROOT;
}

int containerd_config_normalized_root(const ContainerdConfig *c, char **ret) {
        return path_normalize_absolute(containerd_config_effective_root(c), ret);
}

int containerd_config_with_root(const ContainerdConfig *c, const char *root, char **ret_text, size_t *ret_size) {
        if (!c || !containerd_config_root_is_plain(root))
                return -EINVAL;

        const char *text = c->original;
        size_t size = c->original_size;
        _cleanup_free_ char *insert = NULL;
        size_t cut_start, cut_end;

        if (c->root) {
                char quote = text[c->value_start];
                insert = strdup_printf("%c%s%c", quote, root, quote);
                cut_start = c->value_start;
                cut_end = c->value_end;
        } else {
                /* The file's own line ending: a CRLF file stays CRLF. */
                const char *eol = memmem(text, size, "\r\n", 2) ? "\r\n" : "\n";
                bool needs_break = c->insert_at == size && size > 0 && text[size - 1] != '\n';
                insert = strdup_printf("%sroot = \"%s\"%s", needs_break ? eol : "", root, eol);
                cut_start = cut_end = c->insert_at;
        }
        if (!insert)
                return -ENOMEM;

        size_t insert_size = strlen(insert);
        size_t new_size = size - (cut_end - cut_start) + insert_size;
        char *out = malloc(new_size + 1);
        if (!out)
                return -ENOMEM;
        memcpy(out, text, cut_start);
        memcpy(out + cut_start, insert, insert_size);
        memcpy(out + cut_start + insert_size, text + cut_end, size - cut_end);
        out[new_size] = 0;
        *ret_text = out;
        *ret_size = new_size;
        return 0;
}

int containerd_config_write_backup(const ContainerdConfig *c, const char *backup_path) {
        if (!c || !backup_path)
                return -EINVAL;
        if (!c->existed)
                return -ENOENT;
        return write_backup_once(backup_path, c->original, c->original_size, &c->st);
}

int containerd_config_write(const ContainerdConfig *c, const char *path, const char *text, size_t size) {
        if (!c || !path || !text)
                return -EINVAL;
        return write_file_atomic(path, text, size, c->existed ? &c->st : NULL, true);
}

unsigned containerd_config_line_naming(const ContainerdConfig *c, const char *dir) {
        size_t dir_size = dir ? strlen(dir) : 0;
        unsigned line = 1;
        char quote = 0;         /* the string the scan is in, 0 outside */
        bool in_comment = false;

        if (!c || dir_size == 0)
                return 0;
        /* A string or a comment ends with its line here: the multi-line
         * strings that could carry one on are refused before the first
         * table, and after it a path they hide only goes unreported. */
        for (size_t i = 0; i < c->original_size; i++) {
                char ch = c->original[i];
                if (ch == '\n') {
                        line++;
                        quote = 0;
                        in_comment = false;
                        continue;
                }
                if (in_comment)
                        continue;
                if (quote == '"' && ch == '\\') {
                        i++;
                        continue;
                }
                if (quote && ch == quote) {
                        quote = 0;
                        continue;
                }
                if (!quote && (ch == '"' || ch == '\'')) {
                        quote = ch;
                        continue;
                }
                if (!quote && ch == '#') {
                        in_comment = true;
                        continue;
                }
                if (line == c->root_line || i + dir_size > c->original_size ||
                    memcmp(c->original + i, dir, dir_size) != 0)
                        continue;
                /* "/var/lib/containerd-old" is another directory */
                char after = i + dir_size < c->original_size ? c->original[i + dir_size] : 0;
                if (after == '/' || after == '"' || after == '\'')
                        return line;
        }
        return 0;
}

int containerd_config_check_imports(const ContainerdConfig *c, const char *config_real_path, char **ret_file,
                                    unsigned *ret_line, ContainerdConfigError *err) {
        if (!c || !config_real_path)
                return -EINVAL;
        const char *slash = strrchr(config_real_path, '/');
        _cleanup_free_ char *dir = slash ? strndup(config_real_path, (size_t) (slash - config_real_path))
                                         : strdup(".");
        if (!dir)
                return -ENOMEM;

        for (char **pattern = c->imports; pattern && *pattern; pattern++) {
                _cleanup_free_ char *full = (*pattern)[0] == '/' ? strdup(*pattern)
                                                                 : strdup_printf("%s/%s", dir, *pattern);
                if (!full)
                        return -ENOMEM;
                glob_t matches = {};
                int g = glob(full, GLOB_NOSORT, NULL, &matches);
                if (g == GLOB_NOSPACE) {
                        globfree(&matches);
                        return -ENOMEM;
                }
                for (size_t i = 0; g == 0 && i < matches.gl_pathc; i++) {
                        _cleanup_(containerd_config_freep) ContainerdConfig *imported = NULL;
                        ContainerdConfigError e = {};
                        int r = containerd_config_load(matches.gl_pathv[i], &imported, &e);
                        if (r >= 0 && !imported->root)
                                continue;
                        char *file = strdup(matches.gl_pathv[i]);
                        globfree(&matches);
                        if (!file)
                                return -ENOMEM;
                        if (r == -EBADMSG) {
                                if (err)
                                        *err = e;
                        } else if (r < 0) {
                                if (err) {
                                        err->line = 0;
                                        snprintf(err->message, sizeof err->message, "cannot read it: %s",
                                                 strerror(-r));
                                }
                        } else {
                                if (err)
                                        *err = (ContainerdConfigError) {};
                                *ret_line = imported->root_line;
                        }
                        *ret_file = file;
                        return 1;
                }
                globfree(&matches);
        }
        return 0;
}

/* Go's flag package: "-name" and "--name" alike, "=value" or the next
 * word. Returns the value (pointing into argv), or NULL. */
static const char *flag_value(char *const *argv, size_t i, const char *name, bool *ret_takes_next) {
        const char *arg = argv[i];
        if (arg[0] != '-')
                return NULL;
        arg += arg[1] == '-' ? 2 : 1;
        size_t n = strlen(name);
        if (strncmp(arg, name, n) != 0)
                return NULL;
        if (arg[n] == '=') {
                *ret_takes_next = false;
                return arg + n + 1;
        }
        if (arg[n] == 0 && argv[i + 1]) {
                *ret_takes_next = true;
                return argv[i + 1];
        }
        return NULL;
}

int containerd_find_config_flag(char *const *argv, char **ret_path) {
        static const char *const names[] = { "config", "c" };
        for (size_t i = 1; argv && argv[0] && argv[i]; i++) {
                if (streq(argv[i], "--"))
                        break;
                for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                        bool takes_next;
                        const char *value = flag_value(argv, i, names[k], &takes_next);
                        if (!value)
                                continue;
                        char *path = strdup(value);
                        if (!path)
                                return -ENOMEM;
                        *ret_path = path;
                        return 1;
                }
        }
        return 0;
}

int containerd_find_root_flag(char *const *argv, char **ret_flag) {
        for (size_t i = 1; argv && argv[0] && argv[i]; i++) {
                if (streq(argv[i], "--"))
                        break;
                bool takes_next;
                const char *value = flag_value(argv, i, "root", &takes_next);
                if (!value)
                        continue;
                char *flag = takes_next ? strdup_printf("%s %s", argv[i], value) : strdup(argv[i]);
                if (!flag)
                        return -ENOMEM;
                *ret_flag = flag;
                return 1;
        }
        return 0;
}
