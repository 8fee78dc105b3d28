#include "src/client/https_transport.h"

#include <curl/curl.h>

#include <cctype>
#include <mutex>

namespace kms::client {
namespace {

struct Sink {
  std::vector<uint8_t> body;
  size_t limit = 0;
  bool overflow = false;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t len = size * n;
  if (sink->body.size() + len > sink->limit) {
    sink->overflow = true;
    return 0;  // makes libcurl abort the transfer
  }
  sink->body.insert(sink->body.end(), reinterpret_cast<const uint8_t*>(data),
                    reinterpret_cast<const uint8_t*>(data) + len);
  return len;
}

struct CurlEasy {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  ~CurlEasy() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
  }
  CurlEasy() = default;
  CurlEasy(const CurlEasy&) = delete;
  CurlEasy& operator=(const CurlEasy&) = delete;
};

std::string Lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

}  // namespace

Result<std::unique_ptr<HttpsTransport>> HttpsTransport::Create(HttpsOptions opt) {
  if (!Lower(opt.url).starts_with("https://")) {
    return InvalidArgumentError("KMS URL must use https://");
  }
  if (!opt.pinned_pubkey.empty()) {
    std::string_view rest = opt.pinned_pubkey;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      const std::string_view pin = rest.substr(0, semi);
      if (!pin.starts_with("sha256//") || pin.size() != 8 + 44) {
        return InvalidArgumentError("public key pin must be sha256//<base64 of 32 bytes>");
      }
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    }
  }
  static std::once_flag once;
  static CURLcode init_rc = CURLE_OK;
  std::call_once(once, [] { init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_rc != CURLE_OK) {
    return InternalError("libcurl initialization failed");
  }
  return std::unique_ptr<HttpsTransport>(new HttpsTransport(std::move(opt)));
}

Result<std::vector<uint8_t>> HttpsTransport::Exchange(std::span<const uint8_t> req) {
  CurlEasy c;
  if (c.h == nullptr) {
    return InternalError("curl_easy_init failed");
  }
  Sink sink;
  sink.limit = opt_.max_response_size;
  const std::string ctype = "Content-Type: " + std::string(kMikeyContentType);
  const std::string accept = "Accept: " + std::string(kMikeyContentType);
  c.headers = curl_slist_append(c.headers, ctype.c_str());
  c.headers = curl_slist_append(c.headers, accept.c_str());
  c.headers = curl_slist_append(c.headers, "Expect:");
  bool ok = c.headers != nullptr;
  auto set = [&](CURLcode rc) { ok = ok && rc == CURLE_OK; };
  set(curl_easy_setopt(c.h, CURLOPT_URL, opt_.url.c_str()));
  set(curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "https"));
  set(curl_easy_setopt(c.h, CURLOPT_REDIR_PROTOCOLS_STR, "https"));
  set(curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 0L));
  set(curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(c.h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2));
  set(curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYPEER, 1L));
  set(curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYHOST, 2L));
  if (!opt_.ca_file.empty()) {
    set(curl_easy_setopt(c.h, CURLOPT_CAINFO, opt_.ca_file.c_str()));
  }
  if (!opt_.pinned_pubkey.empty()) {
    set(curl_easy_setopt(c.h, CURLOPT_PINNEDPUBLICKEY, opt_.pinned_pubkey.c_str()));
  }
  set(curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(opt_.connect_timeout.count())));
  set(curl_easy_setopt(c.h, CURLOPT_TIMEOUT_MS, static_cast<long>(opt_.total_timeout.count())));
  set(curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers));
  set(curl_easy_setopt(c.h, CURLOPT_POST, 1L));
  set(curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, req.data()));
  set(curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.size())));
  set(curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, &WriteBody));
  set(curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &sink));
  if (!ok) {
    return InternalError("libcurl option setup failed");
  }
  const CURLcode rc = curl_easy_perform(c.h);
  if (sink.overflow) {
    return DecodeError("KMS response exceeds the size limit");
  }
  if (rc != CURLE_OK) {
    return UnavailableError(std::string("KMS unreachable: ") + curl_easy_strerror(rc));
  }
  long status = 0;
  char* ct = nullptr;
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(c.h, CURLINFO_CONTENT_TYPE, &ct);
  if (status != 200) {
    return FailedPreconditionError("KMS answered HTTP status " + std::to_string(status));
  }
  // Media type comparison is case-insensitive; parameters (e.g. version) are allowed.
  const std::string type = ct ? Lower(ct) : std::string();
  std::string base = type.substr(0, type.find(';'));
  while (!base.empty() && (base.back() == ' ' || base.back() == '\t')) base.pop_back();
  if (base != kMikeyContentType) {
    return DecodeError("KMS answer is not application/mikey");
  }
  return std::move(sink.body);
}

}  // namespace kms::client
