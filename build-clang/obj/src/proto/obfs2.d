build-clang/obj/src/proto/obfs2.o: src/proto/obfs2.c \
  include/mtproto/crypto.h include/mtproto/common.h \
  src/proto/transport_internal.h include/mtproto/transport.h \
  src/util/util.h

include/mtproto/crypto.h:

include/mtproto/common.h:

src/proto/transport_internal.h:

include/mtproto/transport.h:

src/util/util.h:
