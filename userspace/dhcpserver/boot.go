package dhcpserver

import (
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
)

// bootFileField is the BOOTP header's file field: 128 bytes, NUL-terminated.
const bootFileField = 127

// setBoot fills the network boot fields (PXE, BOOTP): siaddr from
// next-server, sname from server-name, file from boot-file; and options
// 66 (TFTP server: server-name, else next-server) and 67 (boot file) when
// the client asks for them, or 67 when the name is too long for the file
// field.
func setBoot(s *Server, x *Exchange) bool {
	b, r := x.Boot, x.Resp
	if b == (config.Boot{}) {
		return true
	}
	if b.NextServer.IsValid() {
		r.ServerIPAddr = ip4(b.NextServer)
	}
	if b.ServerName != "" {
		r.ServerHostName = b.ServerName
	}
	fits := len(b.BootFile) <= bootFileField
	if b.BootFile != "" && fits {
		r.BootFileName = b.BootFile
	}
	asked := func(code dhcpv4.OptionCode) bool {
		for _, c := range x.Req.ParameterRequestList() {
			if c.Code() == code.Code() {
				return true
			}
		}
		return false
	}
	if asked(dhcpv4.OptionTFTPServerName) {
		switch {
		case b.ServerName != "":
			r.UpdateOption(dhcpv4.OptTFTPServerName(b.ServerName))
		case b.NextServer.IsValid():
			r.UpdateOption(dhcpv4.OptTFTPServerName(b.NextServer.String()))
		}
	}
	if b.BootFile != "" && (!fits || asked(dhcpv4.OptionBootfileName)) {
		r.UpdateOption(dhcpv4.OptBootFileName(b.BootFile))
	}
	return true
}
