#include "runtime/dashboard.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <sstream>

#include "runtime/auditor.hpp"
#include "runtime/crypto.hpp"

namespace bf::runtime::dashboard {
namespace {

using nlohmann::json;

constexpr std::array<const char*, 26> phonetic = {
    "alpha", "bravo",  "charlie", "delta",  "echo",    "foxtrot", "golf",    "hotel", "india",
    "juliett", "kilo", "lima",    "mike",   "november", "oscar",  "papa",    "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "x-ray",  "yankee",  "zulu"};

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (overlongs,
// surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if ((b & 0xE0) == 0xC0) {
    len = 2;
    cp = b & 0x1Fu;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3;
    cp = b & 0x0Fu;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4;
    cp = b & 0x07u;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3Fu);
  }
  static constexpr std::array<std::uint32_t, 5> min_for_len = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

std::string esc(std::string_view s) { return html_escape(s); }

std::string str(const json& j, const char* key, std::string fallback = "") {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return fallback;
}
std::uint64_t uint(const json& j, const char* key) {
  // Non-negative integers only, whether the JSON holds them as signed or unsigned.
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return 0;
  if (j[key].is_number_unsigned()) return j[key].get<std::uint64_t>();
  const auto v = j[key].get<std::int64_t>();
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}
bool flag(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}
std::string number_text(double v, int decimals) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << v;
  return out.str();
}

// Worker id -> "alpha (worker-01)", from the status JSON's workers (index order).
std::string worker_label(const json& status, std::string_view id) {
  if (status.is_object() && status.contains("workers") && status["workers"].is_array()) {
    for (const auto& w : status["workers"]) {
      if (str(w, "id") == id) return phonetic_name(uint(w, "index")) + " (" + std::string(id) + ")";
    }
  }
  return std::string(id);
}
std::string worker_label(const json& status, std::size_t index) {
  if (status.is_object() && status.contains("workers") && status["workers"].is_array()) {
    for (const auto& w : status["workers"]) {
      if (uint(w, "index") == index) return phonetic_name(index) + " (" + str(w, "id") + ")";
    }
  }
  return phonetic_name(index);
}
std::string names_text(const json& status, const std::vector<std::string>& ids) {
  if (ids.empty()) return "none";
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + worker_label(status, id);
  return out;
}

// WCAG 2.2 AA: the colour pairs and their measured contrast ratios are in docs/accessibility.md.
constexpr const char* style_sheet = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1b1b1b; background: #ffffff; }
a { color: #0a4ea8; text-decoration: underline; }
a:visited { color: #5b2a86; }
:focus-visible { outline: 3px solid #b3261e; outline-offset: 2px; }
.skip { position: absolute; left: 0.5rem; top: -10rem; background: #ffffff; padding: 0.5rem 1rem;
  border: 2px solid #1b1b1b; z-index: 10; }
.skip:focus, .skip:focus-visible { top: 0.5rem; }
header { background: #eef1f5; border-bottom: 2px solid #5f6b7a; padding: 0.5rem 1rem; }
header p { margin: 0 0 0.25rem 0; font-weight: 700; }
nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; }
nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
main { padding: 1rem; max-width: 80rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 0.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
caption { text-align: left; font-weight: 700; padding: 0.25rem 0; }
th, td { border: 1px solid #5f6b7a; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
thead th { background: #eef1f5; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.facts dt { font-weight: 700; }
dl.facts dd { margin: 0; }
code, .hash { font-family: "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.state { font-weight: 700; padding: 0 0.3rem; border: 1px solid currentColor; border-radius: 3px; }
.pass { color: #0b6b2e; background: #eaf6ee; }
.fail { color: #a3151b; background: #fdeeee; }
.note { color: #4a4a4a; background: #ffffff; }
.live { border: 2px solid #5f6b7a; padding: 0.5rem 1rem; margin: 1rem; max-width: 78rem; }
label { font-weight: 700; margin-right: 0.5rem; }
input { font: inherit; padding: 0.2rem 0.4rem; border: 2px solid #5f6b7a; }
button { font: inherit; padding: 0.2rem 0.8rem; color: #ffffff; background: #0a4ea8; border: 2px solid #0a4ea8;
  border-radius: 3px; cursor: pointer; }
)css";

// Announces, politely, what changed since the last poll: newly decided queries (with their answer),
// workers connecting or leaving, workers isolated. Silent when nothing changed.
constexpr const char* live_script = R"js(
(function () {
  var live = document.getElementById('live');
  if (!live || !window.fetch) return;
  var names = ['alpha','bravo','charlie','delta','echo','foxtrot','golf','hotel','india','juliett','kilo','lima',
    'mike','november','oscar','papa','quebec','romeo','sierra','tango','uniform','victor','whiskey','x-ray','yankee','zulu'];
  function nameOf(w) { return (w.index < names.length ? names[w.index] : 'worker ' + (w.index + 1)); }
  var last = null, lastAdded = null, failed = false;
  function say(text) { if (text) live.textContent = text; }
  function announceQueries(done, before) {
    return fetch('/v1/queries', {cache: 'no-store'}).then(function (r) { return r.json(); }).then(function (q) {
      var fresh = q.added - (lastAdded === null ? q.added : lastAdded);
      lastAdded = q.added;
      var parts = [];
      var items = q.queries.slice(0, Math.min(fresh, 3));
      items.forEach(function (e) {
        parts.push(e.sequence ? 'Query ' + e.sequence + ' ' + e.outcome + ': ' + e.answer + '.'
                              : 'A query failed: ' + e.error + '.');
      });
      if (done > before && parts.length === 0) parts.push((done - before) + ' more queries finished.');
      return parts.join(' ');
    });
  }
  function poll() {
    fetch('/v1/status', {cache: 'no-store'}).then(function (r) { return r.json(); }).then(function (s) {
      var msgs = [];
      if (failed) { msgs.push('The head answers again.'); failed = false; }
      var pending = Promise.resolve('');
      if (last) {
        if (s.connected !== last.connected) msgs.push(s.connected + ' of ' + s.n + ' workers connected.');
        s.workers.forEach(function (w, i) {
          var was = last.workers[i];
          if (was && (w.isolated || !w.eligible) && !(was.isolated || !was.eligible))
            msgs.push('Worker ' + nameOf(w) + ' isolated.');
        });
        if (s.queries_done !== last.queries_done) pending = announceQueries(s.queries_done, last.queries_done);
      } else {
        pending = announceQueries(0, 0).then(function () { return ''; });
      }
      last = s;
      return pending.then(function (q) { say([q].concat(msgs).filter(Boolean).join(' ')); });
    }).catch(function () {
      if (!failed) say('The head does not answer; still trying.');
      failed = true;
    }).then(function () { setTimeout(poll, POLL_MS); });
  }
  poll();
})();
)js";

std::string page(std::string_view title, std::string_view current, std::string_view body_html) {
  struct Link {
    const char* href;
    const char* text;
  };
  static constexpr std::array<Link, 3> links = {{{"/", "Cluster status"}, {"/queries", "Recent queries"}, {"/help", "Help"}}};
  std::string out;
  out.reserve(body_html.size() + 8192);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  out += esc(title);
  out += " \xE2\x80\x94 Butterfly</title>\n<style>";
  out += style_sheet;
  out += "</style>\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to main content</a>\n"
         "<header>\n<p>Butterfly head</p>\n<nav aria-label=\"Main\">\n<ul>\n";
  for (const auto& l : links) {
    out += "<li><a href=\"";
    out += l.href;
    out += "\"";
    if (current == l.href) out += " aria-current=\"page\"";
    out += ">";
    out += l.text;
    out += "</a></li>\n";
  }
  out += "</ul>\n</nav>\n</header>\n<main id=\"main\" tabindex=\"-1\">\n";
  out += body_html;
  out += "</main>\n<footer>\n<div class=\"live\">\n<p><strong>Announcements</strong> (updated every " +
         std::to_string(poll_interval_ms / 1000) +
         " seconds while this page is open):</p>\n"
         "<p id=\"live\" role=\"status\" aria-live=\"polite\" aria-atomic=\"true\">No new events.</p>\n"
         "<noscript><p>JavaScript is off: reload the page to see new events.</p></noscript>\n</div>\n"
         "</footer>\n<script>";
  std::string script = live_script;
  const std::string marker = "POLL_MS";
  script.replace(script.find(marker), marker.size(), std::to_string(poll_interval_ms));
  out += script;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

std::string state_badge(std::string_view state) {
  const bool pass = state == "PASS" || state == "pass";
  const bool fail = state == "FAIL" || state == "fail";
  std::string upper;
  for (char c : state) upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  // The word carries the meaning; the colour only repeats it.
  return std::string("<span class=\"state ") + (pass ? "pass" : fail ? "fail" : "note") + "\">" + esc(upper) + "</span>";
}

std::string fact(std::string_view term, std::string_view value_html) {
  return "<dt>" + esc(term) + "</dt><dd>" + std::string(value_html) + "</dd>\n";
}

std::string certificate_lookup_form() {
  return "<form action=\"/certificates\" method=\"get\">\n"
         "<p><label for=\"sequence\">Certificate number</label>"
         "<input id=\"sequence\" name=\"sequence\" type=\"number\" min=\"1\" inputmode=\"numeric\" required> "
         "<button type=\"submit\">Show certificate</button></p>\n</form>\n";
}

std::string workers_table(const json& status) {
  std::string out =
      "<table>\n<caption>Workers, in membership order</caption>\n<thead><tr><th scope=\"col\">Worker</th>"
      "<th scope=\"col\">Health</th><th scope=\"col\">Connection</th><th scope=\"col\">Reputation</th>"
      "<th scope=\"col\">Isolation</th><th scope=\"col\">Address</th></tr></thead>\n<tbody>\n";
  const json workers = status.contains("workers") && status["workers"].is_array() ? status["workers"] : json::array();
  for (const auto& w : workers) {
    const bool connected = flag(w, "connected");
    const bool isolated = flag(w, "isolated");
    const bool eligible = flag(w, "eligible");
    const double reputation = w.contains("reputation") && w["reputation"].is_number() ? w["reputation"].get<double>() : 0.0;
    const char* health = isolated || !eligible ? "FAIL" : connected ? "PASS" : "FAIL";
    const char* health_words = isolated ? "isolated: excluded from quorums"
                               : !eligible ? "not eligible: reputation too low"
                               : connected ? "healthy"
                                           : "unreachable";
    out += "<tr><th scope=\"row\">" + esc(phonetic_name(uint(w, "index"))) + " (" + esc(str(w, "id")) + ")</th>";
    out += "<td>" + state_badge(health) + " " + health_words + "</td>";
    out += std::string("<td>") + (connected ? "connected" : "disconnected") + "</td>";
    out += "<td>" + number_text(reputation, 3) + "</td>";
    out += std::string("<td>") + (isolated ? "isolated" : "not isolated") + "</td>";
    out += "<td><code>" + esc(str(w, "address")) + "</code></td></tr>\n";
  }
  if (workers.empty()) out += "<tr><td colspan=\"6\">The head reports no workers.</td></tr>\n";
  out += "</tbody>\n</table>\n";
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const std::size_t len = utf8_length(text, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t':
      case '\n': out += c; break;
      default:
        if (u < 0x20 || u == 0x7F) {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
    ++i;
  }
  return out;
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  // Back up over continuation bytes so the cut never splits a character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "\xE2\x80\xA6";
}

std::string phonetic_name(std::size_t index) {
  if (index < phonetic.size()) return phonetic[index];
  return "worker " + std::to_string(index + 1);
}

std::string utc_time(std::int64_t unix_s) {
  const auto t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "unknown time";
  std::array<char, 32> buf{};
  const auto n = std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return std::string(buf.data(), n);
}

std::string payload_text(std::string_view payload_hex) {
  constexpr std::size_t shown_bytes_max = 48;
  std::string bytes;
  for (std::size_t i = 0; i + 1 < payload_hex.size() && bytes.size() <= shown_bytes_max; i += 2) {
    unsigned v = 0;
    const auto [p, ec] = std::from_chars(payload_hex.data() + i, payload_hex.data() + i + 2, v, 16);
    if (ec != std::errc{} || p != payload_hex.data() + i + 2) return truncate_utf8(payload_hex, 64);
    bytes += static_cast<char>(v);
  }
  bool printable = !bytes.empty() && bytes.size() <= shown_bytes_max;
  for (std::size_t i = 0; printable && i < bytes.size();) {
    const auto u = static_cast<unsigned char>(bytes[i]);
    const std::size_t len = u < 0x80 ? (u >= 0x20 && u != 0x7F ? 1 : 0) : utf8_length(bytes, i);
    if (len == 0) printable = false;
    i += len;
  }
  if (printable) return "\"" + bytes + "\"";
  return "hex " + truncate_utf8(payload_hex, 64);
}

QueryRecord record_from_reply(std::string_view query, std::string_view mode, unsigned http_status,
                              std::string_view body, std::int64_t finished_unix_s) {
  QueryRecord r;
  r.query = truncate_utf8(query, record_text_bytes_max);
  r.mode = truncate_utf8(mode, 32);
  r.http_status = http_status;
  r.finished_unix_s = finished_unix_s;
  const auto j = json::parse(body, nullptr, false);
  if (http_status != 200 || j.is_discarded() || !j.is_object()) {
    r.outcome = "failed";
    std::string message = "HTTP " + std::to_string(http_status);
    if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
      message += ": " + str(j["error"], "message");
    }
    r.error = truncate_utf8(message, record_text_bytes_max);
    return r;
  }
  r.sequence = uint(j, "sequence");
  r.outcome = truncate_utf8(str(j, "outcome", "unknown"), 64);
  r.answer = truncate_utf8(str(j, "answer"), record_text_bytes_max);
  const auto ids = [&](const char* key) {
    std::vector<std::string> out;
    if (!j.contains(key) || !j[key].is_array()) return out;
    for (const auto& id : j[key]) {
      if (out.size() >= record_names_max) break;
      if (id.is_string()) out.push_back(truncate_utf8(id.get<std::string>(), 64));
    }
    return out;
  };
  r.signers = ids("signers");
  r.outvoted = ids("outvoted");
  r.silent = ids("silent");
  r.isolated = ids("isolated");
  if (j.contains("timings_ms") && j["timings_ms"].is_object() && j["timings_ms"].contains("total") &&
      j["timings_ms"]["total"].is_number()) {
    r.total_ms = j["timings_ms"]["total"].get<double>();
  }
  return r;
}

void RecentQueries::add(QueryRecord record) {
  if (capacity_ == 0) return;
  if (items_.size() >= capacity_) items_.pop_back();
  items_.push_front(std::move(record));
  ++added_;
}

json recent_json(const RecentQueries& recent) {
  json queries = json::array();
  for (const auto& r : recent.newest_first()) {
    queries.push_back({{"sequence", r.sequence},
                       {"finished", utc_time(r.finished_unix_s)},
                       {"query", r.query},
                       {"mode", r.mode},
                       {"outcome", r.outcome},
                       {"answer", r.answer},
                       {"error", r.error},
                       {"signers", r.signers},
                       {"outvoted", r.outvoted},
                       {"silent", r.silent},
                       {"isolated", r.isolated},
                       {"total_ms", r.total_ms}});
  }
  return {{"added", recent.added()}, {"capacity", recent_queries_max}, {"queries", queries}};
}

std::string status_page(const json& status) {
  std::string b = "<h1>Cluster status</h1>\n";
  const auto n = uint(status, "n");
  const auto connected = uint(status, "connected");
  std::size_t isolated = 0;
  if (status.contains("workers") && status["workers"].is_array()) {
    for (const auto& w : status["workers"]) isolated += flag(w, "isolated") || !flag(w, "eligible") ? 1 : 0;
  }
  // Results first, in one sentence; the details follow.
  b += "<p>" + std::to_string(connected) + " of " + std::to_string(n) + " workers connected, " +
       std::to_string(isolated) + " isolated. The cluster tolerates up to " + std::to_string(uint(status, "f")) +
       (uint(status, "f") == 1 ? " faulty worker" : " faulty workers") + " and needs " + std::to_string(uint(status, "q")) + " agreeing answers (the quorum).</p>\n";
  b += "<h2>Workers</h2>\n" + workers_table(status);
  b += "<h2>Chain and queries</h2>\n<dl class=\"facts\">\n";
  const json chain = status.contains("chain") && status["chain"].is_object() ? status["chain"] : json::object();
  const auto next = uint(chain, "next_sequence");
  b += fact("Next certificate number", std::to_string(next));
  if (next > 1) {
    const auto latest = std::to_string(next - 1);
    b += fact("Latest certificate", "<a href=\"/certificates/" + latest + "\">Certificate " + latest + "</a>");
  } else {
    b += fact("Latest certificate", "none yet");
  }
  b += fact("Hash of the latest certificate", "<span class=\"hash\">" + esc(str(chain, "previous_hash")) + "</span>");
  b += fact("Queries finished", std::to_string(uint(status, "queries_done")));
  b += fact("Queries in flight", std::to_string(uint(status, "queries_in_flight")));
  b += fact("Membership digest", "<span class=\"hash\">" + esc(str(status, "membership_digest")) + "</span>");
  b += fact("Log directory", "<code>" + esc(str(status, "log_dir")) + "</code>");
  b += "</dl>\n<h2>Look up a certificate</h2>\n" + certificate_lookup_form();
  return page("Cluster status", "/", b);
}

std::string queries_page(const RecentQueries& recent, const json& status) {
  const auto& items = recent.newest_first();
  std::string b = "<h1>Recent queries</h1>\n";
  b += "<p>" + std::to_string(items.size()) + " shown, newest first; the head keeps the last " +
       std::to_string(recent_queries_max) + " (" + std::to_string(recent.added()) + " since it started).</p>\n";
  if (items.empty()) {
    b += "<p>No queries yet. Ask one with <code>butterfly query ask \"2+2?\"</code>.</p>\n";
    return page("Recent queries", "/queries", b);
  }
  b += "<table>\n<caption>Recent queries with their outcome and certificate</caption>\n<thead><tr>"
       "<th scope=\"col\">Certificate</th><th scope=\"col\">Query</th><th scope=\"col\">Outcome</th>"
       "<th scope=\"col\">Answer</th><th scope=\"col\">Signed by</th><th scope=\"col\">Outvoted or silent</th>"
       "<th scope=\"col\">Mode</th><th scope=\"col\">Time (ms)</th><th scope=\"col\">Finished</th></tr></thead>\n<tbody>\n";
  for (const auto& r : items) {
    b += "<tr><th scope=\"row\">";
    if (r.sequence != 0) {
      const auto s = std::to_string(r.sequence);
      b += "<a href=\"/certificates/" + s + "\">Certificate " + s + "</a>";
    } else {
      b += "none";
    }
    b += "</th><td>" + esc(r.query) + "</td>";
    b += "<td>" + state_badge(r.outcome == "decided" ? "PASS" : "FAIL") + " " + esc(r.outcome) + "</td>";
    b += "<td>" + (r.sequence != 0 ? esc(r.answer) : esc(r.error)) + "</td>";
    b += "<td>" + esc(names_text(status, r.signers)) + "</td>";
    std::string other_text = r.outvoted.empty() ? "" : "outvoted: " + names_text(status, r.outvoted);
    if (!r.silent.empty()) other_text += (other_text.empty() ? "" : "; ") + std::string("silent: ") + names_text(status, r.silent);
    b += "<td>" + (other_text.empty() ? std::string("none") : esc(other_text)) + "</td>";
    b += "<td>" + esc(r.mode) + "</td><td>" + number_text(r.total_ms, 1) + "</td>";
    b += "<td>" + esc(utc_time(r.finished_unix_s)) + "</td></tr>\n";
  }
  b += "</tbody>\n</table>\n";
  return page("Recent queries", "/queries", b);
}

std::string certificate_page(std::uint64_t sequence, const json& verification, std::span<const std::uint8_t> bytes,
                             const json& status) {
  const auto seq = std::to_string(sequence);
  const std::string verdict = str(verification, "verdict", "FAIL");
  std::string b = "<h1>Certificate " + seq + "</h1>\n";
  const json checks = verification.contains("checks") && verification["checks"].is_array() ? verification["checks"] : json::array();
  std::size_t failed = 0;
  std::string first_failure;
  for (const auto& c : checks) {
    const std::string state = str(c, "state", str(c, "result"));
    if (state == "FAIL" || state == "fail") {
      if (failed++ == 0) first_failure = str(c, "check") + ": " + str(c, "detail");
    }
  }
  // The verdict first, as a sentence; the checks and fields after it.
  b += "<p>Verdict: " + state_badge(verdict) + " ";
  b += verdict == "PASS" ? std::string("every check passed; this certificate is valid for the head's membership.")
                         : std::to_string(failed) + " check" + (failed == 1 ? "" : "s") +
                               " failed; the first: " + esc(first_failure);
  b += "</p>\n<p>These are the same checks <code>butterfly cert verify</code> runs (the offline auditor).</p>\n";
  b += "<h2>Checks</h2>\n<table>\n<caption>Auditor checks, in the order they ran</caption>\n<thead><tr>"
       "<th scope=\"col\">Check</th><th scope=\"col\">Result</th><th scope=\"col\">Reason</th></tr></thead>\n<tbody>\n";
  for (const auto& c : checks) {
    b += "<tr><th scope=\"row\">" + esc(str(c, "check")) + "</th><td>" + state_badge(str(c, "state", str(c, "result"))) +
         "</td><td>" + esc(str(c, "detail")) + "</td></tr>\n";
  }
  b += "</tbody>\n</table>\n";

  b += "<h2>Fields</h2>\n";
  const auto decoded = core::cert::decode_certificate(bytes);
  if (!decoded) {
    b += "<p>The certificate does not decode: " + esc(decoded.error().message) + "</p>\n";
  } else {
    const auto c = certificate_json(*decoded, blake2b(bytes));
    b += "<dl class=\"facts\">\n";
    b += fact("Sequence", std::to_string(uint(c, "sequence")));
    b += fact("Outcome", esc(str(c, "outcome")));
    if (c.contains("fusion") && c["fusion"].is_object()) {
      std::string fused = esc(str(c["fusion"], "rule"));
      if (c["fusion"].contains("value_micro") && c["fusion"]["value_micro"].is_number_integer()) {
        fused += ", value " + number_text(static_cast<double>(c["fusion"]["value_micro"].get<std::int64_t>()) / 1e6, 6);
      }
      b += fact("Fusion", fused);
    }
    std::string signers;
    for (const auto& w : c["decided_signers"]) {
      if (w.is_number_unsigned()) signers += (signers.empty() ? "" : ", ") + worker_label(status, w.get<std::size_t>());
    }
    b += fact("Decided signers", signers.empty() ? std::string("none") : esc(signers));
    b += fact("Hash", "<span class=\"hash\">" + esc(str(c, "hash")) + "</span>");
    const auto s = uint(c, "sequence");
    std::string previous = "<span class=\"hash\">" + esc(str(c, "previous_hash")) + "</span>";
    if (s > 1) previous += " (<a href=\"/certificates/" + std::to_string(s - 1) + "\">certificate " + std::to_string(s - 1) + "</a>)";
    b += fact("Previous hash", previous);
    b += fact("Query id", "<span class=\"hash\">" + esc(str(c, "query_id")) + "</span>");
    b += fact("Cluster", "n = " + std::to_string(uint(c, "n")) + ", f = " + std::to_string(uint(c, "f")) +
                             ", quorum q = " + std::to_string(uint(c, "q")) + " (" + esc(str(c, "quorum_rule")) + ")");
    b += fact("Agreement", esc(str(c, "agreement_rule")) + ", parameter " + std::to_string(uint(c, "agreement_parameter")));
    b += fact("Rounds", std::to_string(c["rounds"].size()) + " of at most " + std::to_string(uint(c, "rounds_allowed")));
    b += fact("Epoch", std::to_string(uint(c, "epoch")));
    b += fact("Membership digest", "<span class=\"hash\">" + esc(str(c, "membership_digest")) + "</span>");
    std::string invariants;
    for (const auto& i : c["invariants"]) invariants += (invariants.empty() ? "" : ", ") + str(i, "id");
    b += fact("Invariants named", invariants.empty() ? std::string("none") : esc(invariants));
    b += fact("Task checks", std::to_string(c["task_checks"].size()));
    b += fact("Log file", "<code>" + esc(str(verification, "path")) + "</code>");
    b += "</dl>\n";
    std::size_t round_number = 0;
    for (const auto& r : c["rounds"]) {
      ++round_number;
      b += "<table>\n<caption>Round " + std::to_string(round_number) + ": signed answers</caption>\n<thead><tr>"
           "<th scope=\"col\">Worker</th><th scope=\"col\">Answer id</th><th scope=\"col\">Payload</th></tr></thead>\n<tbody>\n";
      for (const auto& a : r["answers"]) {
        b += "<tr><th scope=\"row\">" + esc(worker_label(status, static_cast<std::size_t>(uint(a, "worker")))) +
             "</th><td class=\"hash\">" + esc(truncate_utf8(str(a, "answer_id"), 16)) + "</td><td>" +
             esc(payload_text(str(a, "payload_hex"))) + "</td></tr>\n";
      }
      b += "</tbody>\n</table>\n";
    }
  }
  b += "<h2>Other forms</h2>\n<ul>\n<li><a href=\"/v1/certificates/" + seq + "\">The certificate file (binary)</a></li>\n"
       "<li><a href=\"/v1/certificates/" + seq + "?format=json\">The verification as JSON</a></li>\n</ul>\n";
  b += "<h2>Look up another certificate</h2>\n" + certificate_lookup_form();
  return page("Certificate " + seq, "", b);
}

std::string certificate_missing_page(std::string_view requested, unsigned http_status, std::string_view message) {
  std::string b = "<h1>No certificate " + esc(requested) + "</h1>\n";
  b += "<p>" + state_badge("FAIL") + " The head answered " + std::to_string(http_status) + ": " + esc(message) + "</p>\n";
  b += "<p>Certificate numbers start at 1; the <a href=\"/\">status page</a> shows the latest one.</p>\n";
  b += "<h2>Look up a certificate</h2>\n" + certificate_lookup_form();
  return page("No such certificate", "", b);
}

std::string help_page() {
  std::string b = "<h1>Help</h1>\n";
  b += "<h2>What the pages show</h2>\n<dl class=\"facts\">\n";
  b += fact("Cluster status", "each worker by its phonetic name (alpha, bravo, ...) and id, its health, connection, "
                              "reputation and isolation, and where the certificate chain stands.");
  b += fact("Recent queries", "the last " + std::to_string(recent_queries_max) +
                                  " queries this head answered, newest first, with outcome, answer, signers and a "
                                  "link to each certificate.");
  b += fact("Certificate", "the certificate's fields and the offline auditor's checks, each PASS or FAIL with its "
                           "reason: the same verification as butterfly cert verify.");
  b += "</dl>\n<h2>Keyboard</h2>\n<ul>\n"
       "<li>Tab moves to the next link, field or button; Shift+Tab to the previous one. The focused element has a "
       "thick red outline.</li>\n"
       "<li>The first Tab on each page reaches the skip link; Enter on it jumps past the navigation to the "
       "content.</li>\n"
       "<li>Enter follows a link or presses a button. No action needs a mouse.</li>\n</ul>\n"
       "<h2>Announcements</h2>\n<p>While a page is open it asks the head for its status every " +
       std::to_string(poll_interval_ms / 1000) +
       " seconds and announces, politely (after what a screen reader is saying), new decided queries, workers "
       "connecting or leaving, and workers isolated. Without JavaScript nothing is announced; reload to "
       "update.</p>\n"
       "<h2>Colour</h2>\n<p>Colour never carries meaning alone: every result is also a word (PASS, FAIL, isolated, "
       "disconnected). Text and controls meet WCAG 2.2 AA contrast.</p>\n"
       "<h2>From the command line</h2>\n<ul>\n<li><code>butterfly cluster status</code></li>\n"
       "<li><code>butterfly query ask \"2+2?\" --screen-reader</code></li>\n"
       "<li><code>butterfly cert verify LOG/000001.cert --membership membership.json</code></li>\n</ul>\n";
  return page("Help", "/help", b);
}

std::string not_found_page(std::string_view path) {
  std::string b = "<h1>Page not found</h1>\n<p>There is no page <code>" + esc(path) +
                  "</code>. The pages are <a href=\"/\">cluster status</a>, <a href=\"/queries\">recent "
                  "queries</a>, certificates (<code>/certificates/1</code>) and <a href=\"/help\">help</a>.</p>\n";
  return page("Page not found", "", b);
}

bool is_dashboard_path(std::string_view path) {
  return path == "/" || path == "/queries" || path == "/help" || path == "/certificates" ||
         path.starts_with("/certificates/") || path == "/v1/queries";
}

std::optional<Page> route(std::string_view method, std::string_view path, std::string_view query_string,
                          const Sources& sources) {
  if (!is_dashboard_path(path)) return std::nullopt;
  if (method != "GET") {
    return Page{405, "text/html; charset=utf-8", not_found_page(std::string(path) + " (only GET is allowed)")};
  }
  const json status = sources.status ? sources.status() : json::object();
  static const RecentQueries empty;
  const RecentQueries& recent = sources.recent != nullptr ? *sources.recent : empty;
  if (path == "/") return Page{200, "text/html; charset=utf-8", status_page(status)};
  if (path == "/queries") return Page{200, "text/html; charset=utf-8", queries_page(recent, status)};
  if (path == "/help") return Page{200, "text/html; charset=utf-8", help_page()};
  if (path == "/v1/queries") {
    return Page{200, "application/json", recent_json(recent).dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
  }
  std::string_view digits;
  if (path == "/certificates") {
    // The lookup form: /certificates?sequence=N (the one parameter).
    constexpr std::string_view key = "sequence=";
    if (query_string.starts_with(key)) digits = query_string.substr(key.size());
  } else {
    digits = path.substr(std::string_view("/certificates/").size());
  }
  std::uint64_t sequence = 0;
  const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
  if (digits.empty() || err != std::errc{} || end != digits.data() + digits.size() || sequence == 0) {
    return Page{400, "text/html; charset=utf-8",
                certificate_missing_page(truncate_utf8(digits, 40), 400,
                                         "a certificate number is a positive integer, e.g. /certificates/1")};
  }
  if (!sources.certificate) return Page{404, "text/html; charset=utf-8", certificate_missing_page(std::to_string(sequence), 404, "no certificates here")};
  const Fetched verification = sources.certificate(sequence, true);
  const auto vj = json::parse(verification.body, nullptr, false);
  if (verification.status != 200 || vj.is_discarded()) {
    std::string message = "the head could not read it";
    if (!vj.is_discarded() && vj.contains("error") && vj["error"].is_object()) message = str(vj["error"], "message");
    return Page{verification.status == 200 ? 500u : verification.status, "text/html; charset=utf-8",
                certificate_missing_page(std::to_string(sequence), verification.status, message)};
  }
  const Fetched raw = sources.certificate(sequence, false);
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(raw.body.data()), raw.body.size());
  return Page{200, "text/html; charset=utf-8", certificate_page(sequence, vj, bytes, status)};
}

}  // namespace bf::runtime::dashboard
