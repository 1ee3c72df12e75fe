build-clang/obj/src/crypto/sha256.o: src/crypto/sha256.c \
  src/crypto/crypto_internal.h include/mtproto/crypto.h \
  include/mtproto/common.h src/util/util.h src/crypto/sha256_ni.h

src/crypto/crypto_internal.h:

include/mtproto/crypto.h:

include/mtproto/common.h:

src/util/util.h:

src/crypto/sha256_ni.h:
