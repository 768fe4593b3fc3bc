module Router.Core.Wrr

open Router.Core.Model

let schedule (weights: int array) : int array = Tijdeman.cycle weights

let memberAt (group: Group) (position: int64) : int =
    let length = int64 group.Schedule.Length
    let offset = ((position % length) + length) % length
    group.Schedule[int offset]

let at (group: Group) (position: int64) : Relay = group.Members[memberAt group position]
