/*
 * make install into a temporary prefix, then pkg-config finds the library and a program
 * built only from the installed headers and libraries runs.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : 128);
}

/* The C example of README.md, taken from the file as it stands (its first ```c block), built
 * with the README's own cc line against the installed copy in dir/usr, run against the
 * installed mtproto-harness: it must log in and print the user as canonical JSON. */
static void readme_example(const char *build, const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/readme.sh", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        tap_bail("cannot write %s", path);
    fprintf(f,
            "set -u\n"
            "d=%s; san='%s'\n"
            "awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on' README.md > $d/app.c\n"
            "grep -q 'int main' $d/app.c || { echo 'no C block with main in README.md'; exit 1; }\n"
            "line=$(grep -m1 '^cc .*pkg-config --cflags --libs libmtproto' README.md)\n"
            "[ -n \"$line\" ] || { echo 'no cc line in README.md'; exit 1; }\n"
            "echo \"README: $line\"\n"
            "export PKG_CONFIG_PATH=$d/usr/lib/pkgconfig LD_LIBRARY_PATH=$d/usr/lib\n"
            "cd $d && eval \"$line $san\" || exit 1\n"
            "$d/usr/bin/mtproto-harness --pubkey-out $d/pub.pem > $d/ready.json 2>$d/harness.err &\n"
            "hp=$!\n"
            "i=0; while [ $i -lt 100 ] && ! grep -q ready $d/ready.json; do sleep 0.1; i=$((i+1)); done\n"
            "port=$(sed -n 's/.*\"dcs\":\\[{\"id\":1,\"host\":\"[^\"]*\",\"port\":\\([0-9]*\\).*/\\1/p' "
            "$d/ready.json)\n"
            "timeout 60 ./app $d/pub.pem \"$port\" > $d/app.out 2>$d/app.err; rc=$?\n"
            "kill $hp; wait $hp\n"
            "cat $d/app.out $d/app.err | head -c 600; echo\n"
            "[ $rc = 0 ] && grep -q '^{\"_\":\"users.userFull\"' $d/app.out && "
            "grep -q '\"phone\":\"9996621234\"' $d/app.out\n",
            dir, strstr(build, "asan") ? "-fsanitize=address,undefined" : "");
    fclose(f);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "sh %s > %s/readme.log 2>&1", path, dir);
    int ok = OK(sh(cmd) == 0, "README.md's C example, built with the README's cc line against "
                "the installed copy, logs in to the installed harness and prints the user");
    snprintf(cmd, sizeof cmd, "sed 's/^/# /' %s/readme.log", dir);
    if (!ok || getenv("MTP_INSTALL_VERBOSE"))
        sh(cmd);
}

int main(int argc, char **argv)
{
    (void)argc;
    char build[512];
    snprintf(build, sizeof build, "%s", argv[0]);   /* <BUILD>/tests/test_install */
    char *s = strrchr(build, '/');
    if (!s)
        tap_bail("run me by path");
    *s = 0;
    s = strrchr(build, '/');
    if (!s)
        tap_bail("unexpected path %s", argv[0]);
    *s = 0;
    char dir[] = "/tmp/mtp-install-XXXXXX";
    if (!mkdtemp(dir))
        tap_bail("mkdtemp");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "make -s --no-print-directory install BUILD=%s PREFIX=%s/usr DESTDIR= >%s/log 2>&1",
             build, dir, dir);
    OK(sh(cmd) == 0, "make install PREFIX=%s/usr", dir);
    snprintf(cmd, sizeof cmd, "test -f %s/usr/include/mtproto/tl_schema.h -a -f %s/usr/lib/libmtproto.a -a "
             "-f %s/usr/lib/libmtproto.so.0 -a -x %s/usr/bin/mtproto-tl -a -x %s/usr/bin/mtproto-harness -a "
             "-x %s/usr/bin/mtproto-cli", dir, dir, dir, dir, dir, dir);
    OK(sh(cmd) == 0, "headers, both libraries and the tools are installed");
    snprintf(cmd, sizeof cmd, "PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --cflags --libs libmtproto "
             "| grep -q -- '-lmtproto'", dir);
    OK(sh(cmd) == 0, "pkg-config --cflags --libs libmtproto finds it");
    snprintf(cmd, sizeof cmd,
             "printf '#include <mtproto/tl.h>\\n#include <mtproto/tl_schema.h>\\n#include <stdio.h>\\n"
             "int main(void){mtp_arena_t *a=mtp_arena_new(0);mtp_buf_t b;mtp_buf_init(&b);"
             "mtp_help_getNearestDc_t *q=MTP_NEW(a,help_getNearestDc);"
             "int rc=mtp_tl_encode(&q->_,&b);printf(\"%%%%d %%%%zu\\\\n\",rc,b.len);"
             "mtp_buf_free(&b);mtp_arena_free(a);return rc;}\\n' > %s/app.c && "
             "cc -std=c11 %s %s/app.c -o %s/app $(PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --cflags "
             "--libs --static libmtproto) >>%s/log 2>&1 && LD_LIBRARY_PATH=%s/usr/lib %s/app | grep -q '^0 4$'",
             dir, strstr(build, "asan") ? "-fsanitize=address,undefined" : "", dir, dir, dir, dir, dir, dir);
    if (!OK(sh(cmd) == 0, "a program built against the installed copy runs")) {
        snprintf(cmd, sizeof cmd, "sed 's/^/# /' %s/log; cat %s/app.c | sed 's/^/# /'", dir, dir);
        sh(cmd);
    }
    readme_example(build, dir);
    snprintf(cmd, sizeof cmd, "%s/usr/bin/mtproto-tl info help.getConfig | grep -q c4f9186b", dir);
    OK(sh(cmd) == 0, "the installed mtproto-tl runs");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    sh(cmd);
    return tap_done();
}
