#include "src/http/http_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace kms::http {

namespace {
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) {
      return false;
    }
  }
  return true;
}

bool IsMikeyContentType(const char* value) {
  if (value == nullptr) {
    return false;
  }
  std::string_view v(value);
  std::string_view type = v.substr(0, v.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
    type.remove_suffix(1);
  }
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) {
    type.remove_prefix(1);
  }
  return EqualsIgnoreCase(type, kMikeyContentType);
}

std::optional<uint64_t> ParseContentLength(std::string_view value) {
  if (value.empty() || value.size() > 19) {
    return std::nullopt;
  }
  uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

const char* StatusText(unsigned status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string SockaddrToString(const sockaddr* addr) {
  if (addr == nullptr) {
    return "unknown";
  }
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof(in));
    if (inet_ntop(AF_INET, &in.sin_addr, buf, sizeof(buf)) != nullptr) {
      return buf;
    }
  } else if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, addr, sizeof(in6));
    if (inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof(buf)) != nullptr) {
      return buf;
    }
  }
  return "unknown";
}

std::string SanitizeLabel(std::string_view value) {
  if (value.empty() || value.size() > 32) {
    return "other";
  }
  for (char c : value) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return "other";
    }
  }
  return std::string(value);
}

}  // namespace kms::http
