// Package all links every source kind into the binary: importing it runs
// each kind's registration.
package all

import (
	_ "github.com/odatagw/odatagw/sources/mysql"    // mysql:// and mariadb://
	_ "github.com/odatagw/odatagw/sources/postgres" // postgres:// and postgresql://
	_ "github.com/odatagw/odatagw/sources/sqlite"   // sqlite:PATH
)
