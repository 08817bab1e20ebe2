#ifndef CCURLSHIM_H
#define CCURLSHIM_H

/*
 * A small HTTP POST client over one libcurl easy handle, for Swift.
 *
 * `curl_easy_setopt` is variadic and does not import into Swift, so the whole request lives here: Swift hands over
 * the URL, the header lines, the body and the timeouts, and gets back an `rc_response` with plain types only.
 * This header deliberately does not include <curl/curl.h>: importing it needs nothing but this file.
 *
 * Nothing in an `rc_response` ever contains the URL or a header value that was sent (no CURLOPT_ERRORBUFFER, no
 * verbose output): the URL of an incoming webhook and the `Authorization` header are secrets.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Response bodies beyond this many bytes are read and discarded (`body_truncated` is set). */
#define RC_MAX_BODY 65536

/** One libcurl easy handle (and so one connection cache). Not thread-safe: one request at a time per client. */
typedef struct rc_client rc_client;

typedef struct rc_response {
    /** HTTP status of the final response; 0 when none was received. */
    long status;
    /** The response body (malloc'd, NUL-terminated, at most RC_MAX_BODY bytes), or NULL when empty. */
    unsigned char *body;
    size_t body_len;
    /** 1 when the server sent more than RC_MAX_BODY bytes. */
    int body_truncated;
    /** `Retry-After` of the final response in seconds (delta-seconds); -1 when absent or an HTTP-date. */
    double retry_after;
    /** The CURLcode; 0 when a response was received (whatever its status). -1: the request could not be set up. */
    int curl_code;
    /** A static, short, safe name for `curl_code` (`timeout`, `connect_failed`, ...); NULL when curl_code is 0. */
    const char *error_name;
    /** Connections this request had to open (0 when a kept-alive connection was reused). */
    long new_connections;
    /** Seconds the transfer took. */
    double total_time;
    /** With `capture_headers`: the final response's header lines ("Name: value\r\n" each, malloc'd,
     *  NUL-terminated), else NULL. */
    char *headers;
    size_t headers_len;
} rc_response;

/** Options of rc_request; zero-initialise and set what differs. */
typedef struct rc_request_options {
    /** "GET" or "POST" (NULL: POST). */
    const char *method;
    /** Bound on connecting (incl. TLS); 0: libcurl's default. */
    long connect_timeout_ms;
    /** Bound on the whole transfer; 0: none (the Lambda Runtime API's long poll must not time out). */
    long total_timeout_ms;
    /** Response bodies beyond this many bytes are discarded (`body_truncated`); 0: RC_MAX_BODY. */
    size_t max_body;
    /** 1: keep the final response's header lines in `headers`. */
    int capture_headers;
    /** libcurl's CURLOPT_AWS_SIGV4 provider string (e.g. "aws:amz:eu-west-1:dynamodb"), or NULL. */
    const char *aws_sigv4;
    /** "ACCESS_KEY:SECRET_KEY" for aws_sigv4 (wiped from libcurl's handle after the request), or NULL. */
    const char *userpwd;
} rc_request_options;

/** A new client, or NULL when libcurl could not be initialised. Calls curl_global_init once per process. */
rc_client *rc_client_new(void);

/** Frees the client and closes its connections. NULL is accepted. */
void rc_client_free(rc_client *client);

/**
 * POSTs `body` (`len` bytes) to `url` with the given header lines (`"Name: value"`), following no redirects,
 * over http or https only. `connect_timeout_ms` bounds connecting (incl. TLS), `total_timeout_ms` the whole
 * transfer. Fills `*out` (call rc_response_free afterwards, whatever the result) and returns `out->curl_code`.
 */
int rc_post(rc_client *client, const char *url, const char *const *headers, size_t nheaders, const void *body,
            size_t len, long connect_timeout_ms, long total_timeout_ms, rc_response *out);

/**
 * One request with options (see rc_request_options); `body` is sent for POST only. Same contract as rc_post
 * otherwise: fills `*out` (call rc_response_free afterwards) and returns `out->curl_code`.
 */
int rc_request(rc_client *client, const char *url, const char *const *headers, size_t nheaders, const void *body,
               size_t len, const rc_request_options *options, rc_response *out);

/** Frees the body and headers of a response filled by rc_post or rc_request. */
void rc_response_free(rc_response *response);

/** Connections this client has opened so far (all requests). */
long rc_client_connections_opened(const rc_client *client);

/** The short name rc_post uses for a CURLcode (`curl_<n>` style names are not returned: unknown codes give `transport_error`). */
const char *rc_error_name(int curl_code);

/** The version of the libcurl in use, e.g. "7.88.1". */
const char *rc_curl_version(void);

#ifdef __cplusplus
}
#endif

#endif
