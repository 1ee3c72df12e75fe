/* libmtproto client — internal declarations. */
#ifndef MTP_CLIENT_INT_H
#define MTP_CLIENT_INT_H

#include <mtproto/client.h>

extern const char mtp_client_pem_production[];
extern const char mtp_client_pem_test[];

#endif
