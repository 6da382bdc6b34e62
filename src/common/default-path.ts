/** The PATH a container gets when its image sets none, as docker's (runc's lookup and the VM's init use it too). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
