/// --explain: every step of one lookup, as text.
module Router.Core.Tests.ExplainTests

open Xunit
open Router.Core
open Router.Core.Lookup
open Router.Core.Tests.Tree

let explain (defaultAt: int) (key: string) (mx: MxAnswer) =
    let config = load (example defaultAt)
    let key = Address.ofText key
    let decision, outcome = lookupAt0 config key mx
    Explain.render key mx decision outcome None []

[<Fact>]
let ``a rule on an MX host`` () =
    let text =
        explain 0 "Someone@Contoso.com" (RulesTests.mxHosts [ RulesTests.mx 20 "b.mail.protection.outlook.com."; RulesTests.mx 10 "A.mail.protection.outlook.com" ])

    let expected =
        [ "key:      someone@contoso.com"
          "domain:   contoso.com"
          "MX hosts: a.mail.protection.outlook.com, b.mail.protection.outlook.com"
          "rule:     \"protection.outlook.com\" (line 22), on MX host a.mail.protection.outlook.com"
          "target:   good"
          "relay:    mx1 relay:[mx1.example.com]:25"
          "reply:    200 relay:[mx1.example.com]:25"
          "" ]

    Assert.Equal(String.concat "\n" expected, text)

[<Fact>]
let ``a rule on the address targeting a server`` () =
    let text = explain 4 "vip@example.com" (RulesTests.mxHosts [])
    Assert.Contains("MX hosts: none\n", text)
    Assert.Contains("rule:     \"vip@example.com\" (line 20), on the address\n", text)
    Assert.Contains("target:   mx4\n", text)
    Assert.Contains("relay:    mx4 smtp:[192.0.2.4]:587\n", text)
    Assert.Contains("reply:    200 smtp:[192.0.2.4]:587\n", text)

[<Fact>]
let ``the default NO RESULT`` () =
    let text = explain 0 "a@b.org" (RulesTests.mxHosts [ RulesTests.mx 10 "mx.b.org" ])
    Assert.Contains("rule:     default\n", text)
    Assert.Contains("target:   NO RESULT\n", text)
    Assert.Contains("relay:    n/a\n", text)
    Assert.Contains("reply:    500 NO%20RESULT\n", text)

[<Fact>]
let ``the wildcard and a DNS failure`` () =
    let wildcard = explain 0 "*" NotQueried
    Assert.Contains("MX hosts: none (the wildcard key is not looked up)\n", wildcard)
    Assert.Contains("reply:    500 NO%20RESULT\n", wildcard)
    let failed = explain 0 "a@b.org" (DnsFailure "SERVFAIL")
    Assert.Contains("MX hosts: DNS failure: SERVFAIL\n", failed)
    Assert.Contains("reply:    400 SERVFAIL\n", failed)
