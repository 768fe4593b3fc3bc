/// --allow: which client addresses may talk to the router (tcp_table has no authentication).
/// Networks in CIDR notation, IPv4 and IPv6, matched on the address bytes. Pure: the shell
/// hands in the peer's address bytes.
module Router.Core.Allow

open System
open System.Net

/// A network: its address bytes (4 for IPv4, 16 for IPv6) with every bit past the prefix
/// zero, and the prefix length.
type Network =
    { Bytes: byte[]
      PrefixLength: int }

/// True when address[first .. last] are all zero.
let private zeros (address: byte[]) (first: int) (last: int) : bool =
    let mutable all = true

    for i in first..last do
        if address[i] <> 0uy then all <- false

    all

/// ::ffff:a.b.c.d, the form an IPv4 peer takes on a dual-stack socket, as a.b.c.d.
let normalize (address: byte[]) : byte[] =
    let mapped =
        address.Length = 16
        && zeros address 0 9
        && address[10] = 0xffuy
        && address[11] = 0xffuy

    if mapped then Array.sub address 12 4 else address

/// True when the first `bits` bits of `a` and `b` are equal (both at least that long).
let private samePrefix (a: byte[]) (b: byte[]) (bits: int) : bool =
    let whole = bits / 8
    let rest = bits % 8
    let mutable same = true

    for i in 0 .. whole - 1 do
        if a[i] <> b[i] then same <- false

    if same && rest > 0 then
        let mask = byte (0xff <<< (8 - rest))
        same <- (a[whole] &&& mask) = (b[whole] &&& mask)

    same

/// The network with every bit past the prefix cleared.
let private masked (bytes: byte[]) (bits: int) : byte[] =
    Array.init bytes.Length (fun i ->
        let first = i * 8

        if first + 8 <= bits then bytes[i]
        elif first >= bits then 0uy
        else bytes[i] &&& byte (0xff <<< (8 - (bits - first))))

let private addressText (bytes: byte[]) = IPAddress(bytes).ToString()

/// The network as CIDR text, e.g. 192.0.2.0/24 or 2001:db8::/32.
let render (net: Network) : string =
    addressText net.Bytes + "/" + string net.PrefixLength

/// A dotted quad, strictly: four decimal numbers 0..255, no leading zeros (010 is octal to
/// some tools and decimal to others: refuse to guess).
let private parseIPv4 (text: string) : byte[] option =
    let parts = text.Split '.'

    let octet (p: string) =
        if p.Length = 0 || p.Length > 3 || (p.Length > 1 && p[0] = '0') then None
        elif not (p |> Seq.forall Char.IsAsciiDigit) then None
        else
            let v = Int32.Parse(p, Globalization.CultureInfo.InvariantCulture)
            if v > 255 then None else Some(byte v)

    if parts.Length <> 4 then
        None
    else
        let octets = parts |> Array.map octet
        if Array.forall Option.isSome octets then Some(octets |> Array.map Option.get) else None

let private parseIPv6 (text: string) : byte[] option =
    // No zone ids (fe80::1%eth0): a peer address carries none that could match.
    if text.Contains '%' || not (text |> Seq.forall (fun c -> Uri.IsHexDigit c || c = ':' || c = '.')) then
        None
    else
        match IPAddress.TryParse text with
        | true, ip ->
            match ip with
            | null -> None
            | ip when ip.AddressFamily = Sockets.AddressFamily.InterNetworkV6 -> Some(ip.GetAddressBytes())
            | _ -> None
        | _ -> None

/// Reads `ADDRESS` or `ADDRESS/PREFIX` (a bare address is a /32 or /128 network). An
/// IPv4-mapped IPv6 network (::ffff:192.0.2.0/120) is read as the IPv4 network it means.
/// Bits set past the prefix are an error that shows the network meant.
let parse (text: string) : Result<Network, string> =
    let text = text.Trim()
    let slash = text.IndexOf '/'
    let addressPart = if slash < 0 then text else text.Substring(0, slash)
    let prefixPart = if slash < 0 then None else Some(text.Substring(slash + 1))
    let bare = if addressPart.StartsWith "[" && addressPart.EndsWith "]" then addressPart.Substring(1, addressPart.Length - 2) else addressPart

    let address =
        if bare.Contains ':' then parseIPv6 bare else parseIPv4 bare

    match address with
    | None -> Result.Error("not an IPv4 or IPv6 network: \"" + text + "\" (expected ADDRESS or ADDRESS/PREFIX, e.g. 192.0.2.0/24)")
    | Some bytes ->
        let most = bytes.Length * 8

        let prefix =
            match prefixPart with
            | None -> Some most
            | Some p when p.Length > 0 && p.Length <= 3 && p |> Seq.forall Char.IsAsciiDigit ->
                let v = Int32.Parse(p, Globalization.CultureInfo.InvariantCulture)
                if v <= most then Some v else None
            | Some _ -> None

        match prefix with
        | None ->
            Result.Error(
                "bad prefix length in \"" + text + "\": expected /0 to /" + string most
            )
        | Some bits ->
            let net = masked bytes bits

            if net <> bytes then
                Result.Error(
                    "\"" + text + "\" has bits set past the /" + string bits + " prefix: did you mean "
                    + addressText net + "/" + string bits + "?"
                )
            else
                let mapped = normalize bytes

                if mapped.Length = 4 && bytes.Length = 16 && bits >= 96 then
                    Ok { Bytes = mapped; PrefixLength = bits - 96 }
                else
                    Ok { Bytes = bytes; PrefixLength = bits }

/// True when `address` (4 or 16 bytes; IPv4-mapped IPv6 counts as IPv4) lies in `net`.
let contains (net: Network) (address: byte[]) : bool =
    let address = normalize address
    address.Length = net.Bytes.Length && samePrefix net.Bytes address net.PrefixLength

/// The allow-list's verdict: an empty list allows everyone (the router then listens on
/// loopback only, see `needsList`), else the address must lie in one of the networks.
let allows (networks: Network list) (address: byte[]) : bool =
    List.isEmpty networks || networks |> List.exists (fun net -> contains net address)

/// 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address.
let isLoopback (address: byte[]) : bool =
    let address = normalize address

    if address.Length = 4 then
        address[0] = 127uy
    else
        address.Length = 16
        && zeros address 0 14
        && address[15] = 1uy

/// A router bound to `host` must be given an allow-list unless only local processes can
/// reach it: a wildcard or any other non-loopback address needs one.
let needsList (host: byte[]) : bool = not (isLoopback host)
