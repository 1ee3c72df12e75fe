build-clang/obj/tests/testharness.o: tests/testharness.c \
  tests/testharness.h include/mtproto/client.h include/mtproto/common.h \
  include/mtproto/net.h include/mtproto/tl.h include/mtproto/transport.h \
  include/mtproto/crypto.h include/mtproto/ops.h \
  include/mtproto/server.h

tests/testharness.h:

include/mtproto/client.h:

include/mtproto/common.h:

include/mtproto/net.h:

include/mtproto/tl.h:

include/mtproto/transport.h:

include/mtproto/crypto.h:

include/mtproto/ops.h:

include/mtproto/server.h:
