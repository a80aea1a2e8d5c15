module pvefleet.test/go-oracle

go 1.19
