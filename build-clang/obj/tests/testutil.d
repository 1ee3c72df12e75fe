build-clang/obj/tests/testutil.o: tests/testutil.c tests/testutil.h \
  src/util/util.h include/mtproto/common.h

tests/testutil.h:

src/util/util.h:

include/mtproto/common.h:
