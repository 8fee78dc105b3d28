#include "src/cli/kms_bench/http_get.h"

#include <curl/curl.h>

namespace kms::bench {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* body) {
  if (body != nullptr) static_cast<std::string*>(body)->append(data, size * n);
  return size * n;
}

}  // namespace

long HttpGet(const std::string& url, std::string* body) {
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    return 0;
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  long code = 0;
  if (curl_easy_perform(h) == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  }
  curl_easy_cleanup(h);
  return code;
}

}  // namespace kms::bench
