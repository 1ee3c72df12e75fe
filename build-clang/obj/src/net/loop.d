build-clang/obj/src/net/loop.o: src/net/loop.c src/net/net_internal.h \
  include/mtproto/net.h include/mtproto/common.h

src/net/net_internal.h:

include/mtproto/net.h:

include/mtproto/common.h:
