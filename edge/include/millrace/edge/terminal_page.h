// The web terminal: one self-contained page (edge/web/terminal.html) over the terminal API.
#pragma once

#include "millrace/common/http.h"

namespace millrace::edge {

const char* TerminalPageHtml();

// Serves the page at / and /terminal.
inline void AddTerminalPage(Router& router) {
  auto page = [](const HttpRequest&) {
    HttpResponse r = HttpResponse::Text(200, TerminalPageHtml(), "text/html; charset=utf-8");
    r.headers["Cache-Control"] = "no-cache";
    return r;
  };
  router.Add("GET", "/", page);
  router.Add("GET", "/terminal", page);
}

}  // namespace millrace::edge
