// HttpGet: one plain-HTTP GET to kmsd's ops listener (/readyz, /metrics) with libcurl.
#pragma once

#include <string>

namespace kms::bench {

// HttpGet: the HTTP status of GET url (0 on a transport failure), 1 s timeout; the body
// goes to *body when body is not null.
long HttpGet(const std::string& url, std::string* body = nullptr);

}  // namespace kms::bench
