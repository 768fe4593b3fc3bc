/// %XX encoding, the router's one: tcp_table keys and replies (Postfix's dict_tcp.c) and
/// the control characters of routing log lines.
module Router.Core.Percent

open System

/// %XX-encodes '%', space, control bytes (< 0x20, 0x7f) and bytes >= 0x80, upper-case hex:
/// every byte of the result is printable ASCII other than space, which Postfix's tcp_table
/// passes through unchanged.
val encode: bytes: ReadOnlySpan<byte> -> string

/// Decodes %XX (hex, either case) from `text` into `into` (at least text.Length bytes): the
/// number of bytes decoded, or Error on a truncated or bad escape.
val decodeInto: text: ReadOnlySpan<byte> -> into: Span<byte> -> Result<int, string>

/// Decodes %XX (hex, either case); Error on a truncated or bad escape.
val decode: text: ReadOnlySpan<byte> -> Result<byte[], string>

/// Cuts encoded text to at most `max` characters without splitting a %XX escape.
val truncate: max: int -> encoded: string -> string

/// Appends `text`, with '%', control characters (C0, DEL, C1) and the Unicode line and
/// paragraph separators %XX-encoded byte by byte in UTF-8, so the text stays on one line;
/// everything else (space, other non-ASCII) is kept as it is.
val appendLineSafe: into: Text.StringBuilder -> text: string -> unit
