# expect: #/class: unknown class "Tool"
cwlVersion: v1.2
class: Tool
inputs: {}
outputs: {}
