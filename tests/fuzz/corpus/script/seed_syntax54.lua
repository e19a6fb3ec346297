function on_bar(b) local x <const> = 1 local y <close> = nil goto done ::done:: return 0x10 // 3 | 1 ~ 2 & 7 << 1 >> 1 end
