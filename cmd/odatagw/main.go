// Command odatagw serves database tables as OData 4.0/4.01 services for
// Salesforce Connect. See `odatagw --help`.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
