params = { x = {default = 1, min = 2} }
function on_bar(bar
