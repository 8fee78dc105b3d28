// Small helpers over libmicrohttpd shared by the Ua and operations listeners.
#pragma once

#include <microhttpd.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kms::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// QueueBytes / QueueText: queue a response (copied) with a status; true on success.
bool QueueBytes(MHD_Connection* c, unsigned status, std::span<const uint8_t> body,
                const char* content_type, const Headers& extra = {});
bool QueueText(MHD_Connection* c, unsigned status, const std::string& text,
               const Headers& extra = {});
// ClientAddress: the peer's IP address as text ("?" if unknown).
std::string ClientAddress(MHD_Connection* c);
// BoundPort: the port a daemon listens on (useful with port 0).
uint16_t BoundPort(MHD_Daemon* d);

}  // namespace kms::http
