build-clang/obj/src/crypto/hash.o: src/crypto/hash.c \
  src/crypto/crypto_internal.h include/mtproto/crypto.h \
  include/mtproto/common.h src/util/util.h

src/crypto/crypto_internal.h:

include/mtproto/crypto.h:

include/mtproto/common.h:

src/util/util.h:
