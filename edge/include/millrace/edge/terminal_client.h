// TerminalClient: the edge's terminal API (api.h) from the caller's side, as mesctl,
// mes-sim and the tests speak it: JSON requests over one kept-alive connection with the
// session's bearer token, an error answer turned into a Status with the API's code and
// rule, and the references people use resolved to ids (work orders by number, operations
// as WO-1001/10, reasons and lots by code).
//
// Thread-safety: one TerminalClient per thread (it holds one connection).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "millrace/common/http_client.h"
#include "millrace/common/status.h"

namespace millrace::edge {

class TerminalClient {
 public:
  // An answer as it came; status 0 never (no answer is a Status).
  struct Answer {
    int status = 0;
    nlohmann::json body;  // discarded (is_discarded) when the body is not JSON
    std::string text;     // the body as sent
  };

  // "http://host:port": InvalidArgument for anything else.
  static Result<TerminalClient> ForUrl(const std::string& url, std::string token = "");
  explicit TerminalClient(HttpEndpoint endpoint, std::string token = "");
  TerminalClient(TerminalClient&&) = default;
  TerminalClient& operator=(TerminalClient&&) = default;

  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }
  const HttpEndpoint& endpoint() const { return endpoint_; }

  // Any answer, whatever its HTTP status; a Status only when none came (Unavailable,
  // Timeout).
  Result<Answer> Send(const std::string& method, const std::string& target,
                      const nlohmann::json& body = nullptr);
  // The JSON body of a 2xx answer; an error answer as a Status of the API's code with its
  // rule and message.
  Result<nlohmann::json> Call(const std::string& method, const std::string& target,
                              const nlohmann::json& body = nullptr);
  // What an error answer means, as a Status (OK for a 2xx answer).
  static Status ErrorOf(const Answer& answer);

  // The first item of a list, or NotFound "<what> not found".
  Result<nlohmann::json> First(const std::string& target, const std::string& what);
  // References to ids: an id is taken as it is.
  Result<std::string> WorkOrderId(const std::string& ref);
  // WO-1001/10: the operation of sequence 10 of work order WO-1001.
  Result<std::string> OperationId(const std::string& ref);
  // "" stays "".
  Result<std::string> ReasonId(const std::string& ref);
  Result<std::string> LotId(const std::string& ref);
  // Percent-encodes a query value.
  static std::string Encode(const std::string& s);

 private:
  HttpEndpoint endpoint_;
  std::string token_;
  std::unique_ptr<HttpConnection> connection_;
};

}  // namespace millrace::edge
