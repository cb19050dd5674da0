/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "tests.h"
#include "daemon_config.h"
#include "util.h"

static char temp_dir[] = "/tmp/test-daemon_config.XXXXXX";

static char *temp_path(const char *relative) {
        char *p = strdup_printf("%s/%s", temp_dir, relative);
        ASSERT_TRUE(p);
        return p;
}

static void write_bytes(const char *path, const char *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, data, size));
}

static char *read_text(const char *path) {
        char *text = NULL;
        ASSERT_OK(read_full_file(path, 1024 * 1024, &text, NULL));
        return text;
}

/* Loads text from a file in the temp dir. */
static int load_text(const char *text, size_t size, DaemonConfig **ret, DaemonConfigError *err) {
        _cleanup_free_ char *p = temp_path("daemon.json");
        write_bytes(p, text, size);
        return daemon_config_load(p, ret, err);
}

static DaemonConfig *load_ok(const char *text) {
        DaemonConfig *c = NULL;
        DaemonConfigError err = {};
        int r = load_text(text, strlen(text), &c, &err);
        if (r < 0)
                fprintf(stderr, "unexpected failure %d at %u:%u: %s\n", r, err.line, err.column, err.message);
        ASSERT_OK(r);
        return c;
}

static char *render(const DaemonConfig *c) {
        char *text = NULL;
        ASSERT_OK(daemon_config_render(c, &text));
        return text;
}

/* Loads text, expecting -EBADMSG at line:column with message_part. */
static void assert_refused_sized(const char *text, size_t size, unsigned line, unsigned column,
                                 const char *message_part) {
        DaemonConfig *c = NULL;
        DaemonConfigError err = {};

        int r = load_text(text, size, &c, &err);
        if (r != -EBADMSG || err.line != line || err.column != column || !strstr(err.message, message_part))
                fprintf(stderr, "for %s: got %d at %u:%u: %s\n", text, r, err.line, err.column, err.message);
        ASSERT_EQ(r, -EBADMSG);
        ASSERT_TRUE(!c);
        ASSERT_EQ(err.line, line);
        ASSERT_EQ(err.column, column);
        ASSERT_TRUE(strstr(err.message, message_part));
}

static void assert_refused(const char *text, unsigned line, unsigned column, const char *message_part) {
        assert_refused_sized(text, strlen(text), line, column, message_part);
}

static void test_syntax_errors(void) {
        /* The comma after "info" on line 3 is missing. */
        assert_refused("{\n"
                       "  \"debug\": true,\n"
                       "  \"log-level\": \"info\"\n"
                       "  \"data-root\": \"/srv/docker\"\n"
                       "}\n",
                       3, 22, "missing ','");
        assert_refused("{\n  \"a\": \"abc\n}\n", 2, 8, "unterminated string");
        assert_refused("{\"a\": \"abc", 1, 7, "unterminated string");
        assert_refused("{\n  \"a\": 1,\n}\n", 2, 9, "trailing comma");
        assert_refused("{\"a\": [1, 2,]}", 1, 12, "trailing comma");
        assert_refused("{\"a\": [1 2]}", 1, 9, "missing ','");
        assert_refused("{\"a\": 1}\nx\n", 2, 1, "after the closing '}'");
        assert_refused("{\"a\": 1}{}", 1, 9, "after the closing '}'");
        assert_refused("{\"a\": 1", 1, 8, "end of file");
        assert_refused("{\"a\" 1}", 1, 6, "':'");
        assert_refused("{a: 1}", 1, 2, "double quotes");
        assert_refused("{\"a\": 1 x}", 1, 9, "unexpected character 'x'");
        assert_refused("{\"a\": 01}", 1, 7, "leading zero");
        assert_refused("{\"a\": 1.}", 1, 7, "'.'");
        assert_refused("{\"a\": .5}", 1, 7, "a value");
        assert_refused("{\"a\": +1}", 1, 7, "a value");
        assert_refused("{\"a\": 1e}", 1, 7, "exponent");
        assert_refused("{\"a\": tru}", 1, 7, "literal");
        assert_refused("{\"a\": \"\\x\"}", 1, 8, "invalid escape");
        assert_refused("{\"a\": \"\\u12\"}", 1, 8, "\\u escape");
        assert_refused("{\"a\": \"\\ud800\"}", 1, 8, "surrogate");
        assert_refused("{\"a\": \"\\udc00\\ud800\"}", 1, 8, "surrogate");
        assert_refused("{\"a\": \"x\ty\"}", 1, 9, "control character");
        assert_refused("{\"a\": \"x\\u0000y\"}", 1, 9, "NUL");
        assert_refused_sized("{\"a\": 1\0}", 9, 1, 8, "0x00");
        /* Columns count characters, not bytes. */
        assert_refused("{\"\xc3\xa9t\xc3\xa9\": 1 x}", 1, 11, "'x'");

        assert_refused("\xef\xbb\xbf{}", 1, 1, "byte order mark");
        assert_refused("\xff\xfe{\0}\0", 1, 1, "UTF-16");

        assert_refused("{\n  // a note\n  \"a\": 1\n}\n", 2, 3, "comments");
        assert_refused("{\"a\": 1 /* note */}", 1, 9, "comments");
        assert_refused("{\"a\": 1}\n// trailing\n", 2, 1, "comments");
        assert_refused("/* leading */{}", 1, 1, "comments");

        assert_refused("[1, 2]", 1, 1, "top level must be a JSON object");
        assert_refused("\"text\"", 1, 1, "top level must be a JSON object");
        assert_refused("42", 1, 1, "top level must be a JSON object");
        assert_refused("  null\n", 1, 3, "top level must be a JSON object");

        /* A comment marker inside a string is just text. */
        DaemonConfig *c = load_ok("{\"url\": \"http://x/*y*/\"}");
        daemon_config_free(c);
}

static void test_duplicates(void) {
        assert_refused("{\n  \"a\": 1,\n  \"b\": 2,\n  \"a\": 3\n}\n", 4, 3, "duplicate key \"a\"");
        assert_refused("{\"log-opts\": {\"max-size\": \"1m\", \"max-size\": \"2m\"}}", 1, 33,
                       "duplicate key \"max-size\"");
        assert_refused("{\"a\": [{\"k\": 1, \"k\": 2}]}", 1, 17, "duplicate key \"k\"");
        /* Escaped spellings of the same key are the same key. */
        assert_refused("{\"a\": 1, \"\\u0061\": 2}", 1, 10, "duplicate key \"a\"");
        /* Three copies: the second one is reported. */
        assert_refused("{\"x\": 1, \"x\": 2, \"x\": 3}", 1, 10, "duplicate key \"x\"");
        /* The earliest duplicate wins, even if it sits deeper. */
        assert_refused("{\"o\": {\"i\": 1, \"i\": 2}, \"o\": 3}", 1, 16, "duplicate key \"i\"");
        /* Control characters in a key do not reach the terminal. */
        assert_refused("{\"\\u001b[31m\": 1, \"\\u001b[31m\": 2}", 1, 19, "duplicate key \"?[31m\"");

        /* The same key in different objects is fine; so is case. */
        DaemonConfig *c = load_ok("{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}, \"A\": 3}");
        daemon_config_free(c);
}

static void test_nesting(void) {
        char deep[2 * 600 + 16];
        size_t n = 0;

        deep[n++] = '{';
        deep[n++] = '"';
        deep[n++] = 'a';
        deep[n++] = '"';
        deep[n++] = ':';
        for (int i = 0; i < 600; i++)
                deep[n++] = '[';
        for (int i = 0; i < 600; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        assert_refused(deep, 1, 517, "nested");

        /* 500 levels are fine. */
        n = 5;
        for (int i = 0; i < 499; i++)
                deep[n++] = '[';
        for (int i = 0; i < 499; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        DaemonConfig *c = load_ok(deep);
        daemon_config_free(c);
}

static void test_absent_and_blank(void) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *absent = temp_path("no-such-dir/daemon.json");
        _cleanup_free_ char *text = NULL;
        const char *data_root = "x";

        ASSERT_OK(daemon_config_load(absent, &c, NULL));
        ASSERT_FALSE(c->existed);
        ASSERT_STREQ(c->original, "");
        ASSERT_EQ(c->original_size, 0);
        ASSERT_STREQ(c->path, absent);
        ASSERT_TRUE(cJSON_IsObject(c->root) && !c->root->child);
        ASSERT_EQ(daemon_config_get_data_root(c, &data_root), 0);
        ASSERT_TRUE(!data_root);
        text = render(c);
        ASSERT_STREQ(text, "{\n}\n");
        daemon_config_free(c);
        c = NULL;

        /* Only whitespace: an empty object, but the file existed. */
        c = load_ok(" \n\t\r\n");
        ASSERT_TRUE(c->existed);
        ASSERT_EQ(c->original_size, 5);
        ASSERT_TRUE(!c->root->child);
        daemon_config_free(c);
        c = load_ok("");
        ASSERT_TRUE(c->existed);
        ASSERT_EQ(c->original_size, 0);
        daemon_config_free(c);
        c = NULL;

        /* Not a file, or too big. */
        DaemonConfigError err = { .line = 7 };
        ASSERT_EQ(daemon_config_load(temp_dir, &c, &err), -EISDIR);
        ASSERT_TRUE(!c);
        ASSERT_EQ(err.line, 7);

        _cleanup_free_ char *big = temp_path("big.json");
        _cleanup_close_ int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(ftruncate(fd, DAEMON_CONFIG_MAX_SIZE + 1) >= 0);
        ASSERT_EQ(daemon_config_load(big, &c, &err), -EFBIG);
        ASSERT_TRUE(unlink(big) >= 0);
}

static void test_get_data_root(void) {
        const char *value = NULL;
        DaemonConfig *c;

        c = load_ok("{\"data-root\": \"/srv/docker\"}");
        ASSERT_EQ(daemon_config_get_data_root(c, &value), 1);
        ASSERT_STREQ(value, "/srv/docker");
        daemon_config_free(c);

        c = load_ok("{\"graph\": \"/old/docker\"}");
        ASSERT_EQ(daemon_config_get_data_root(c, &value), 1);
        ASSERT_STREQ(value, "/old/docker");
        daemon_config_free(c);

        c = load_ok("{\"graph\": \"/old\", \"data-root\": \"/new\"}");
        ASSERT_EQ(daemon_config_get_data_root(c, &value), 1);
        ASSERT_STREQ(value, "/new");
        daemon_config_free(c);

        c = load_ok("{\"Data-Root\": \"/srv/docker\", \"debug\": true}");
        ASSERT_EQ(daemon_config_get_data_root(c, &value), 0);
        ASSERT_TRUE(!value);
        daemon_config_free(c);

        value = "untouched";
        c = load_ok("{\"data-root\": 42}");
        ASSERT_EQ(daemon_config_get_data_root(c, &value), -EBADMSG);
        ASSERT_STREQ(value, "untouched");
        daemon_config_free(c);

        c = load_ok("{\"graph\": null}");
        ASSERT_EQ(daemon_config_get_data_root(c, &value), -EBADMSG);
        daemon_config_free(c);
}

static void assert_set_renders(const char *input, const char *expected) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = load_ok(input);
        _cleanup_free_ char *text = NULL;
        const char *value = NULL;

        ASSERT_OK(daemon_config_set_data_root(c, "/mnt/data/docker"));
        ASSERT_EQ(daemon_config_get_data_root(c, &value), 1);
        ASSERT_STREQ(value, "/mnt/data/docker");
        ASSERT_TRUE(!cJSON_GetObjectItemCaseSensitive(c->root, "graph"));
        text = render(c);
        ASSERT_STREQ(text, expected);
}

static void test_set_data_root(void) {
        /* In place, with nested objects and every other key kept in order. */
        assert_set_renders("{\"debug\": true, \"data-root\": \"/var/lib/docker\", \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"}, \"zzz\": null}",
                           "{\n"
                           "  \"debug\": true,\n"
                           "  \"data-root\": \"/mnt/data/docker\",\n"
                           "  \"log-opts\": {\n"
                           "    \"max-size\": \"10m\",\n"
                           "    \"max-file\": \"3\"\n"
                           "  },\n"
                           "  \"zzz\": null\n"
                           "}\n");
        /* Only "graph": data-root takes its place. */
        assert_set_renders("{\"a\": 1, \"graph\": \"/old\", \"b\": [1, 2]}",
                           "{\n"
                           "  \"a\": 1,\n"
                           "  \"data-root\": \"/mnt/data/docker\",\n"
                           "  \"b\": [1, 2]\n"
                           "}\n");
        assert_set_renders("{\"graph\": \"/old\"}", "{\n  \"data-root\": \"/mnt/data/docker\"\n}\n");
        /* Both: data-root stays where it is, graph goes. */
        assert_set_renders("{\"graph\": \"/old\", \"x\": false, \"data-root\": \"/new\"}",
                           "{\n"
                           "  \"x\": false,\n"
                           "  \"data-root\": \"/mnt/data/docker\"\n"
                           "}\n");
        /* Neither: appended. */
        assert_set_renders("{\"storage-driver\": \"overlay2\"}",
                           "{\n"
                           "  \"storage-driver\": \"overlay2\",\n"
                           "  \"data-root\": \"/mnt/data/docker\"\n"
                           "}\n");
        assert_set_renders("{}", "{\n  \"data-root\": \"/mnt/data/docker\"\n}\n");
        /* A "graph" that is not a string still goes away. */
        assert_set_renders("{\"graph\": 7}", "{\n  \"data-root\": \"/mnt/data/docker\"\n}\n");

        _cleanup_(daemon_config_freep) DaemonConfig *c = load_ok("{\"data-root\": \"/old\"}");
        ASSERT_EQ(daemon_config_set_data_root(c, "relative/docker"), -EINVAL);
        ASSERT_EQ(daemon_config_set_data_root(c, ""), -EINVAL);
        ASSERT_EQ(daemon_config_set_data_root(c, NULL), -EINVAL);
        const char *value = NULL;
        ASSERT_EQ(daemon_config_get_data_root(c, &value), 1);
        ASSERT_STREQ(value, "/old");
        /* A path that needs escaping comes back the same. */
        ASSERT_OK(daemon_config_set_data_root(c, "/mnt/\"odd\"\\dir/é"));
        _cleanup_free_ char *text = render(c);
        _cleanup_(daemon_config_freep) DaemonConfig *again = load_ok(text);
        ASSERT_EQ(daemon_config_get_data_root(again, &value), 1);
        ASSERT_STREQ(value, "/mnt/\"odd\"\\dir/é");
}

static void test_round_trip(void) {
        static const char document[] =
                "{\n"
                "\t\"escapes\": \"\\u00e9 \xc3\xa9 \\n \\\" \\\\ \\/ \\t \\b \\f \\r \\u0001 \\ud83d\\ude00\",\n"
                "\t\"\\u00e9-key\": \"raw \xe2\x82\xac\",\n"
                "\t\"numbers\": [9007199254740992, 9007199254740991, -9007199254740991, 8000000000000001,\n"
                "\t\t12345678901234567890, 1e400, 1.0, 1E+2, -0, 0.1, 3000000000, 0, -1.5e-7],\n"
                "\t\"flags\": {\"yes\": true, \"no\": false, \"nothing\": null, \"empty\": {}, \"list\": []},\n"
                "\t\"nested\": {\"deeper\": {\"deepest\": [\"a\", {\"b\": 2}]}}\n"
                "}\n";
        _cleanup_(daemon_config_freep) DaemonConfig *c = load_ok(document);
        _cleanup_free_ char *text = render(c);
        _cleanup_(daemon_config_freep) DaemonConfig *again = load_ok(text);
        _cleanup_free_ char *text_again = render(again);

        ASSERT_STREQ(text, text_again);
        /* cJSON_Compare() finds inf != inf, so compare 1e400 on its own. */
        cJSON *numbers_before = cJSON_GetObjectItemCaseSensitive(c->root, "numbers");
        cJSON *numbers_after = cJSON_GetObjectItemCaseSensitive(again->root, "numbers");
        ASSERT_TRUE(cJSON_GetArrayItem(numbers_before, 5)->valuedouble == cJSON_GetArrayItem(numbers_after, 5)->valuedouble);
        cJSON_DeleteItemFromArray(numbers_before, 5);
        cJSON_DeleteItemFromArray(numbers_after, 5);
        ASSERT_TRUE(cJSON_Compare(c->root, again->root, true));
        ASSERT_STREQ(c->original, document);
        ASSERT_EQ(c->original_size, strlen(document));

        const cJSON *escapes = cJSON_GetObjectItemCaseSensitive(again->root, "escapes");
        ASSERT_STREQ(cJSON_GetStringValue(escapes),
                     "\xc3\xa9 \xc3\xa9 \n \" \\ / \t \b \f \r \x01 \xf0\x9f\x98\x80");
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(again->root, "\xc3\xa9-key");
        ASSERT_STREQ(cJSON_GetStringValue(key), "raw \xe2\x82\xac");

        /* Numbers come back exactly as written, and readable as numbers. */
        ASSERT_TRUE(strstr(text, "[9007199254740992, 9007199254740991, -9007199254740991, 8000000000000001, "
                                 "12345678901234567890, 1e400, 1.0, 1E+2, -0, 0.1, 3000000000, 0, -1.5e-7]"));
        const cJSON *numbers = cJSON_GetObjectItemCaseSensitive(again->root, "numbers");
        ASSERT_TRUE(cJSON_IsNumber(cJSON_GetArrayItem(numbers, 1)));
        ASSERT_TRUE(cJSON_GetArrayItem(numbers, 0)->valuedouble == 9007199254740992.0);
        ASSERT_TRUE(cJSON_GetArrayItem(numbers, 1)->valuedouble == 9007199254740991.0);
        ASSERT_TRUE(cJSON_GetArrayItem(numbers, 2)->valuedouble == -9007199254740991.0);

        ASSERT_TRUE(strstr(text, "\"flags\": {\n    \"yes\": true,\n    \"no\": false,\n    \"nothing\": null,\n"));
        ASSERT_TRUE(strstr(text, "\"list\": []"));

        /* A number changed after load is printed from its new value. */
        cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c->root, "numbers"), 0);
        cJSON_SetNumberValue(first, 5);
        _cleanup_free_ char *changed = render(c);
        ASSERT_TRUE(strstr(changed, "[5, 9007199254740991,"));
        /* Render leaves the tree alone. */
        ASSERT_TRUE(cJSON_IsNumber(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c->root, "numbers"), 1)));
}

static void assert_no_temp_files(const char *dir_path) {
        _cleanup_closedir_ DIR *d = opendir(dir_path);
        ASSERT_TRUE(d);
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, ".daemon.json.", 13) == 0 || strncmp(de->d_name, ".backup.json.", 13) == 0) {
                        fprintf(stderr, "temp file left behind: %s/%s\n", dir_path, de->d_name);
                        ASSERT_TRUE(false);
                }
}

static void test_write_atomic(void) {
        _cleanup_free_ char *dir = temp_path("etc-docker");
        _cleanup_free_ char *path = temp_path("etc-docker/daemon.json");
        struct stat st;

        /* Creates the directory; defaults to 0644 root:root. */
        ASSERT_OK(daemon_config_write_atomic(path, "{}\n", NULL));
        ASSERT_TRUE(stat(dir, &st) >= 0);
        ASSERT_TRUE(S_ISDIR(st.st_mode));
        ASSERT_EQ(st.st_mode & 07777, 0755);
        ASSERT_TRUE(stat(path, &st) >= 0);
        ASSERT_EQ(st.st_mode & 07777, 0644);
        ASSERT_EQ(st.st_uid, 0);
        ASSERT_EQ(st.st_gid, 0);
        _cleanup_free_ char *text = read_text(path);
        ASSERT_STREQ(text, "{}\n");
        assert_no_temp_files(dir);

        /* Mode and owner of the loaded file survive the rewrite. */
        write_bytes(path, "{\"debug\": true}", 15);
        ASSERT_TRUE(chmod(path, 0600) >= 0);
        ASSERT_TRUE(chown(path, 1234, 1234) >= 0);
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        ASSERT_OK(daemon_config_load(path, &c, NULL));
        ASSERT_OK(daemon_config_set_data_root(c, "/mnt/data/docker"));
        _cleanup_free_ char *rendered = render(c);
        ASSERT_OK(daemon_config_write_atomic(path, rendered, &c->st));
        ASSERT_TRUE(stat(path, &st) >= 0);
        ASSERT_EQ(st.st_mode & 07777, 0600);
        ASSERT_EQ(st.st_uid, 1234);
        ASSERT_EQ(st.st_gid, 1234);
        free(text);
        text = read_text(path);
        ASSERT_STREQ(text, "{\n  \"debug\": true,\n  \"data-root\": \"/mnt/data/docker\"\n}\n");
        assert_no_temp_files(dir);

        /* A failing rename leaves the target alone and no temp file. */
        _cleanup_free_ char *blocker = temp_path("etc-docker/blocker");
        _cleanup_free_ char *inside = temp_path("etc-docker/blocker/file");
        ASSERT_TRUE(mkdir(blocker, 0755) >= 0);
        write_bytes(inside, "keep", 4);
        ASSERT_TRUE(daemon_config_write_atomic(blocker, "{}\n", NULL) < 0);
        free(text);
        text = read_text(inside);
        ASSERT_STREQ(text, "keep");
        ASSERT_TRUE(lstat(blocker, &st) >= 0 && S_ISDIR(st.st_mode));
        _cleanup_closedir_ DIR *d = opendir(dir);
        ASSERT_TRUE(d);
        struct dirent *de;
        while ((de = readdir(d)))
                ASSERT_TRUE(strncmp(de->d_name, ".blocker.", 9) != 0);

        /* The parent path is a file: nothing can be created there. */
        _cleanup_free_ char *under_file = temp_path("etc-docker/daemon.json/x.json");
        ASSERT_EQ(daemon_config_write_atomic(under_file, "{}\n", NULL), -ENOTDIR);
        ASSERT_EQ(daemon_config_write_atomic(path, NULL, NULL), -EINVAL);
}

static void test_symlinks(void) {
        _cleanup_free_ char *real_dir = temp_path("real-etc");
        _cleanup_free_ char *real = temp_path("real-etc/daemon.json");
        _cleanup_free_ char *link_dir = temp_path("link-etc");
        _cleanup_free_ char *link = temp_path("link-etc/daemon.json");
        _cleanup_free_ char *resolved = NULL;
        struct stat st;

        ASSERT_TRUE(mkdir(real_dir, 0755) >= 0);
        ASSERT_TRUE(mkdir(link_dir, 0755) >= 0);
        write_bytes(real, "{\"debug\": false}\n", 17);
        ASSERT_TRUE(chmod(real, 0640) >= 0);
        ASSERT_TRUE(symlink("../real-etc/daemon.json", link) >= 0);

        ASSERT_OK(daemon_config_resolve_path(link, &resolved));
        ASSERT_STREQ(resolved, real);
        free(resolved);
        resolved = NULL;
        ASSERT_OK(daemon_config_resolve_path(real, &resolved));
        ASSERT_STREQ(resolved, real);
        free(resolved);
        resolved = NULL;

        /* Written through the link: the link stays, the target changes. */
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        ASSERT_OK(daemon_config_load(link, &c, NULL));
        ASSERT_TRUE(c->existed);
        ASSERT_EQ(c->st.st_mode & 07777, 0640);
        ASSERT_OK(daemon_config_set_data_root(c, "/srv/docker"));
        _cleanup_free_ char *rendered = render(c);
        ASSERT_OK(daemon_config_write_atomic(link, rendered, &c->st));
        ASSERT_TRUE(lstat(link, &st) >= 0 && S_ISLNK(st.st_mode));
        ASSERT_TRUE(stat(real, &st) >= 0);
        ASSERT_EQ(st.st_mode & 07777, 0640);
        _cleanup_free_ char *text = read_text(real);
        ASSERT_STREQ(text, rendered);
        assert_no_temp_files(real_dir);
        assert_no_temp_files(link_dir);

        /* A chain of links, the last one dangling: the final target is
         * created and every link stays. */
        _cleanup_free_ char *chain1 = temp_path("link-etc/chain1.json");
        _cleanup_free_ char *chain2 = temp_path("link-etc/chain2.json");
        _cleanup_free_ char *final = temp_path("real-etc/created.json");
        ASSERT_TRUE(symlink("chain2.json", chain1) >= 0);
        ASSERT_TRUE(symlink(final, chain2) >= 0);
        ASSERT_OK(daemon_config_resolve_path(chain1, &resolved));
        ASSERT_STREQ(resolved, final);
        free(resolved);
        resolved = NULL;
        ASSERT_OK(daemon_config_write_atomic(chain1, "{}\n", NULL));
        ASSERT_TRUE(lstat(chain1, &st) >= 0 && S_ISLNK(st.st_mode));
        ASSERT_TRUE(lstat(chain2, &st) >= 0 && S_ISLNK(st.st_mode));
        ASSERT_TRUE(lstat(final, &st) >= 0 && S_ISREG(st.st_mode));

        /* A dangling link into a missing directory, and a loop. */
        _cleanup_free_ char *nowhere = temp_path("link-etc/nowhere.json");
        ASSERT_TRUE(symlink("/no-such-dir-ddr-test/daemon.json", nowhere) >= 0);
        ASSERT_EQ(daemon_config_resolve_path(nowhere, &resolved), -ENOENT);
        _cleanup_free_ char *loop = temp_path("link-etc/loop.json");
        ASSERT_TRUE(symlink("loop.json", loop) >= 0);
        ASSERT_EQ(daemon_config_resolve_path(loop, &resolved), -ELOOP);
        ASSERT_TRUE(!resolved);

        /* A path that does not exist is itself. */
        _cleanup_free_ char *absent = temp_path("real-etc/absent.json");
        ASSERT_OK(daemon_config_resolve_path(absent, &resolved));
        ASSERT_STREQ(resolved, absent);
}

static void test_backup(void) {
        _cleanup_free_ char *path = temp_path("daemon.json");
        _cleanup_free_ char *state = temp_path("state/backups");
        _cleanup_free_ char *backup = temp_path("state/backups/backup.json");
        static const char original[] = "{ \"debug\" : true }  \n";
        struct stat st;

        write_bytes(path, original, strlen(original));
        ASSERT_TRUE(chmod(path, 0600) >= 0);
        ASSERT_TRUE(chown(path, 1234, 1234) >= 0);
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        ASSERT_OK(daemon_config_load(path, &c, NULL));

        ASSERT_OK(daemon_config_write_backup(c, backup));
        _cleanup_free_ char *text = read_text(backup);
        ASSERT_STREQ(text, original);
        ASSERT_TRUE(stat(backup, &st) >= 0);
        ASSERT_EQ(st.st_mode & 07777, 0600);
        ASSERT_EQ(st.st_uid, 1234);
        ASSERT_EQ(st.st_gid, 1234);
        assert_no_temp_files(state);

        /* Again with the same bytes: fine. */
        ASSERT_OK(daemon_config_write_backup(c, backup));

        /* Different bytes, longer or shorter: refused and left alone. */
        write_bytes(backup, "{}", 2);
        ASSERT_EQ(daemon_config_write_backup(c, backup), -EEXIST);
        free(text);
        text = read_text(backup);
        ASSERT_STREQ(text, "{}");
        write_bytes(backup, "{ \"debug\" : true }  \n\n", strlen(original) + 1);
        ASSERT_EQ(daemon_config_write_backup(c, backup), -EEXIST);
        assert_no_temp_files(state);

        /* An empty original is backed up as an empty file. */
        _cleanup_(daemon_config_freep) DaemonConfig *blank = load_ok("");
        _cleanup_free_ char *blank_backup = temp_path("state/blank.json");
        ASSERT_OK(daemon_config_write_backup(blank, blank_backup));
        ASSERT_TRUE(stat(blank_backup, &st) >= 0);
        ASSERT_EQ(st.st_size, 0);
        ASSERT_OK(daemon_config_write_backup(blank, blank_backup));

        /* Nothing to back up when the file did not exist. */
        _cleanup_(daemon_config_freep) DaemonConfig *absent = NULL;
        _cleanup_free_ char *absent_path = temp_path("absent.json");
        _cleanup_free_ char *absent_backup = temp_path("state/absent.json");
        ASSERT_OK(daemon_config_load(absent_path, &absent, NULL));
        ASSERT_EQ(daemon_config_write_backup(absent, absent_backup), -ENOENT);
        ASSERT_TRUE(stat(absent_backup, &st) < 0 && errno == ENOENT);
}

int main(void) {
        ASSERT_TRUE(mkdtemp(temp_dir));

        test_syntax_errors();
        test_duplicates();
        test_nesting();
        test_absent_and_blank();
        test_get_data_root();
        test_set_data_root();
        test_round_trip();

        int r = 0;
        if (geteuid() == 0) {
                test_write_atomic();
                test_symlinks();
                test_backup();
        } else
                r = test_skip("writing root-owned files and chown need root");

        _cleanup_free_ char *cmd = strdup_printf("rm -rf -- '%s'", temp_dir);
        ASSERT_TRUE(cmd);
        ASSERT_EQ(system(cmd), 0);
        return r;
}
