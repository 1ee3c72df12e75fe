build-clang/obj/src/net/stream.o: src/net/stream.c src/net/net_internal.h \
  include/mtproto/net.h include/mtproto/common.h

src/net/net_internal.h:

include/mtproto/net.h:

include/mtproto/common.h:
