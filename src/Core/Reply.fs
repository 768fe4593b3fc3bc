module Router.Core.Reply

[<Struct>]
type Reply =
    | Found of text: string * slot: int
    | NotFound
    | Defer of reason: string

let code (reply: Reply) : int =
    match reply with
    | Found _ -> 200
    | NotFound -> 500
    | Defer _ -> 400
